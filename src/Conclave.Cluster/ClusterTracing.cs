using System.Diagnostics;

namespace Conclave.Cluster;

/// <summary>
/// Spans of the consensus layer (ActivitySource "Conclave.Cluster"): one <c>raft.propose</c> span per proposed batch,
/// from the batch leaving the pipeline to its apply on this member, with the log index and term it got. Nothing is
/// captured or allocated unless something listens to the source (an OTLP exporter configured on the server).
/// </summary>
public static class ClusterTracing
{
    /// <summary>The name of the ActivitySource, for a tracer to subscribe to.</summary>
    public const string SourceName = "Conclave.Cluster";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>The caller's span to hang a proposal under, or null when nobody traces (the put path then pays one check).</summary>
    internal static Activity? CallerSpan() => Source.HasListeners() ? Activity.Current : null;

    /// <summary>
    /// Starts the span of a batch: a child of its first traced proposer's request, linked to the other proposers' (one
    /// log entry serves many requests). Null when nobody listens.
    /// </summary>
    internal static Activity? StartProposal(ReadOnlySpan<Proposal> proposals, int payloadBytes)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        ActivityContext parent = default;
        List<ActivityLink>? links = null;
        foreach (var p in proposals)
        {
            if (p.Caller is not { } caller)
            {
                continue;
            }

            if (parent == default)
            {
                parent = caller.Context;
            }
            else
            {
                (links ??= []).Add(new ActivityLink(caller.Context));
            }
        }

        var activity = Source.StartActivity("raft.propose", ActivityKind.Internal, parent, tags: null, links);
        activity?.SetTag("conclave.raft.batch.commands", proposals.Length);
        activity?.SetTag("conclave.raft.batch.bytes", payloadBytes);
        return activity;
    }
}
