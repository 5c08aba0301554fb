using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Parsing an untrusted YAML or JSON document is bounded in time and memory whatever the document (STYLE.md habit 17):
/// random, mutated, alias bombs, aliases inside their own anchor, nesting past the limit. Each case either passes or is
/// refused as <see cref="ConfigErrorKind.InvalidDocument"/> (the service) or a 4xx problem detail (HTTP). The generator
/// is seeded: a failure names the seed and the case, and <c>CONCLAVE_DOCUMENT_SEED</c> replays it.
/// </summary>
[Collection(HeapMeasurements.Name)]
public sealed class DocumentBoundsPropertyTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private const int Cases = 3000;

    /// <summary>Heap one case may allocate: the worst bounded document is far below it; before the bounds a bomb took 9.7 GB.</summary>
    private const long MaxAllocatedBytesPerCase = 256L * 1024 * 1024;

    private static readonly TimeSpan MaxTimePerCase = TimeSpan.FromSeconds(2);

    private static int Seed => Environment.GetEnvironmentVariable("CONCLAVE_DOCUMENT_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 20261206;

    [Fact]
    public void Every_document_is_accepted_or_refused_as_invalid_within_bounds()
    {
        var generator = new DocumentGenerator(Seed);
        var limits = new ConfigLimits();
        var refused = new Dictionary<string, int>();
        var total = Stopwatch.StartNew();
        for (var i = 0; i < Cases; i++)
        {
            var (format, content, kind) = generator.Next();
            var schema = i % 3 == 0 ? """{"type": ["object", "array", "string", "number", "boolean", "null"]}""" : null;
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            try
            {
                DocumentValidator.Validate(format, content, schema, limits);
            }
            catch (ConfigCenterException e) when (e.Kind is ConfigErrorKind.InvalidDocument or ConfigErrorKind.TooLarge)
            {
                refused[kind] = refused.GetValueOrDefault(kind) + 1;
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {Seed} case {i} ({kind}, {format}, {content.Length} chars): {e.GetType().Name}: {e.Message}\n{Preview(content)}");
            }

            watch.Stop();
            var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
            Assert.True(watch.Elapsed < MaxTimePerCase, $"seed {Seed} case {i} ({kind}) took {watch.Elapsed}\n{Preview(content)}");
            Assert.True(bytes < MaxAllocatedBytesPerCase, $"seed {Seed} case {i} ({kind}) allocated {bytes:N0} bytes\n{Preview(content)}");
        }

        // The generator reaches what it is for: bombs and deep nesting are refused, not accepted by accident.
        Assert.True(refused.GetValueOrDefault("alias bomb") > 50, string.Join(", ", refused));
        Assert.True(refused.GetValueOrDefault("alias in its own anchor") > 50, string.Join(", ", refused));
        Assert.True(refused.GetValueOrDefault("deep nesting") > 50, string.Join(", ", refused));
        Assert.True(total.Elapsed < TimeSpan.FromSeconds(60), $"{Cases} cases took {total.Elapsed}");
    }

    [Fact]
    public async Task Over_http_refusals_are_problem_details_and_the_members_memory_stays_flat()
    {
        var app = await fixture.NewAppAsync();
        using var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "mallory");
        foreach (var format in new[] { "yaml", "json" })
        {
            using var created = await http.PostAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces", new { name = "doc-" + format, format });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        // Publish: each document set as the working copy and published; a refusal is a 4xx problem detail.
        var generator = new DocumentGenerator(Seed + 1);
        for (var i = 0; i < 60; i++)
        {
            var (format, content, kind) = generator.Next();
            var ns = NamespacePath(app, format);
            var what = $"seed {Seed + 1} publish case {i} ({kind}, {format})";
            using var set = await http.PutAsJsonAsync($"{ns}/content", new { content });
            if (set.IsSuccessStatusCode)
            {
                using var publish = await http.PostAsJsonAsync($"{ns}/releases", new { title = "p" + i });
                if (!publish.IsSuccessStatusCode)
                {
                    Assert.True((int)publish.StatusCode is >= 400 and < 500, $"{what}: publish {(int)publish.StatusCode}");
                    Assert.Equal("application/problem+json", publish.Content.Headers.ContentType?.MediaType);
                }
            }
            else
            {
                Assert.True((int)set.StatusCode is >= 400 and < 500, $"{what}: set {(int)set.StatusCode}");
                Assert.Equal("application/problem+json", set.Content.Headers.ContentType?.MediaType);
            }
        }

        // Validate-as-you-type stores nothing: random documents are refused as documents ...
        for (var i = 0; i < 200; i++)
        {
            var (format, content, kind) = generator.Next();
            var what = $"seed {Seed + 1} validate case {i} ({kind}, {format})";
            using var validate = await http.PostAsJsonAsync($"{NamespacePath(app, format)}/validate", new { content });
            var text = await validate.Content.ReadAsStringAsync();
            if (validate.StatusCode == HttpStatusCode.RequestEntityTooLarge)
            {
                // Deep nesting written out past the member's request limit: refused before it is read.
                Assert.Equal("application/problem+json", validate.Content.Headers.ContentType?.MediaType);
                continue;
            }

            Assert.True(validate.StatusCode == HttpStatusCode.OK, $"{what}: validate {(int)validate.StatusCode} {text}");
            var answer = JsonDocument.Parse(text).RootElement;
            if (!answer.GetProperty("valid").GetBoolean())
            {
                Assert.Contains(answer.GetProperty("code").GetString(), new[] { "InvalidDocument", "TooLarge" });
            }
        }

        // ... and under a stream of bombs the member's heap stays flat (in-process member: the test's heap is the
        // member's; before the bounds one such document kept 4.5 GB). The first rounds fill the host's buffer pools.
        var bombs = Bombs();
        var heap = new List<long>();
        for (var i = 0; i < 400; i++)
        {
            if (i % 100 == 0)
            {
                heap.Add(Heap());
            }

            var (format, content) = bombs[i % bombs.Length];
            using var validate = await http.PostAsJsonAsync($"{NamespacePath(app, format)}/validate", new { content });
            var answer = JsonDocument.Parse(await validate.Content.ReadAsStringAsync()).RootElement;
            Assert.False(answer.GetProperty("valid").GetBoolean());
        }

        heap.Add(Heap());
        var growth = heap[^1] - heap[1];
        Assert.True(growth < 16L * 1024 * 1024, $"the heap grew {growth:N0} bytes over 300 bombs validated (heap every 100: {string.Join(", ", heap.Select(h => $"{h:N0}"))})");
        using var health = await http.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private static (NamespaceFormat Format, string Content)[] Bombs()
    {
        var laughs = new System.Text.StringBuilder("l0: &l0 [x,x,x,x,x,x,x,x,x,x]\n");
        for (var i = 1; i <= 9; i++)
        {
            laughs.Append($"l{i}: &l{i} [").AppendJoin(",", Enumerable.Repeat($"*l{i - 1}", 10)).Append("]\n");
        }

        return
        [
            (NamespaceFormat.Yaml, laughs.ToString()),
            (NamespaceFormat.Yaml, "a: &a [1, *a]\n"),
            (NamespaceFormat.Yaml, new string('[', 100_000) + new string(']', 100_000)),
            (NamespaceFormat.Json, new string('[', 100_000) + new string(']', 100_000)),
        ];
    }

    private static string NamespacePath(string app, NamespaceFormat format) =>
        $"/api/v1/apps/{app}/envs/DEV/namespaces/doc-{(format == NamespaceFormat.Yaml ? "yaml" : "json")}";

    private static long Heap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static string Preview(string content) => content.Length > 300 ? content[..300] + $"... ({content.Length} chars)" : content;
}
