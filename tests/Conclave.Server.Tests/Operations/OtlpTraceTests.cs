using Conclave.Server.Tests.Operations.Otlp;

namespace Conclave.Server.Tests.Operations;

/// <summary>
/// Traces reach an OTLP collector when one is configured: a put through etcdctl on a real member gives the gRPC
/// request's server span and a <c>raft.propose</c> span in the same trace (its child, or linked when the batch carried
/// other requests too) with the log index and term it was applied at.
/// </summary>
public sealed class OtlpTraceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_put_exports_its_request_span_and_its_raft_proposal_span_in_one_trace()
    {
        await using var receiver = OtlpReceiver.Start();
        using var dir = TempDirectory.Create();
        await using var node = await NodeProcess.StartAsync(dir.Combine("data"), new NodeProcessOptions
        {
            Name = "traced",
            ExtraArguments = ["--otlp-endpoint", receiver.Url, "--otlp-protocol", "http/protobuf"],
            Output = output,
        });

        (await Etcdctl.RunAsync(node.Endpoint, "put", "traced-key", "v1")).EnsureSuccess();

        // The exporter sends in batches (every 5 s by default); a stop flushes what is left.
        (Span Request, Span Proposal)? found = null;
        await Eventually.WaitAsync(() => (found = Find(receiver.Spans)) is not null, TimeSpan.FromSeconds(30), "the put's request and proposal spans at the receiver");
        var (request, proposal) = found!.Value;

        Assert.Equal(2, request.Kind); // SPAN_KIND_SERVER
        Assert.Equal(request.TraceId, proposal.TraceId);
        Assert.True(proposal.ParentSpanId == request.SpanId || proposal.Links.Any(l => l.SpanId == request.SpanId));
        Assert.True(Attribute(proposal, "conclave.raft.index")?.IntValue > 0);
        Assert.True(Attribute(proposal, "conclave.raft.term")?.IntValue > 0);
        Assert.Contains(proposal.Events, e => e.Name == "committed");
        Assert.Contains(proposal.Events, e => e.Name == "applied");
        Assert.True(proposal.EndTimeUnixNano <= request.EndTimeUnixNano, "the proposal ends before the put is answered");

        var resource = receiver.Spans.First(s => s.Span == proposal).Resource;
        Assert.Equal("conclave", resource.Attributes.Single(a => a.Key == "service.name").Value.StringValue);
        Assert.Equal("traced", resource.Attributes.Single(a => a.Key == "service.instance.id").Value.StringValue);
    }

    [Fact]
    public async Task A_bad_otlp_endpoint_is_refused_at_start()
    {
        using var dir = TempDirectory.Create();
        var (code, _, stderr) = await ConclaveCommand.RunAsync(dir.Path, "serve", "--data-dir", dir.Combine("data"), "--otlp-endpoint", "collector:4317");
        Assert.Equal(1, code);
        Assert.Contains("--otlp-endpoint 'collector:4317': must be an http:// or https:// URL", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await ConclaveCommand.RunAsync(dir.Path, "serve", "--data-dir", dir.Combine("data"), "--otlp-endpoint", "http://127.0.0.1:4318", "--otlp-protocol", "thrift");
        Assert.Equal(1, code);
        Assert.Contains("--otlp-protocol 'thrift': must be grpc or http/protobuf", stderr, StringComparison.Ordinal);
    }

    private static (Span Request, Span Proposal)? Find(IReadOnlyList<(Resource Resource, string Scope, Span Span)> spans)
    {
        foreach (var (_, _, request) in spans)
        {
            if (!IsPut(request))
            {
                continue;
            }

            foreach (var (_, scope, proposal) in spans)
            {
                if (scope == "Conclave.Cluster" && proposal.Name == "raft.propose" && proposal.TraceId == request.TraceId
                    && (proposal.ParentSpanId == request.SpanId || proposal.Links.Any(l => l.SpanId == request.SpanId)))
                {
                    return (request, proposal);
                }
            }
        }

        return null;
    }

    /// <summary>The gRPC request span of KV/Put (the name or the path attribute names the method).</summary>
    private static bool IsPut(Span span) =>
        span.Name.Contains("etcdserverpb.KV/Put", StringComparison.Ordinal)
        || span.Attributes.Any(a => a.Value?.StringValue?.Contains("etcdserverpb.KV/Put", StringComparison.Ordinal) == true);

    private static AnyValue? Attribute(Span span, string key) => span.Attributes.FirstOrDefault(a => a.Key == key)?.Value;
}
