using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Webhooks;

/// <summary>Which audit actions become webhook events, and which webhooks an event goes to.</summary>
public static class WebhookEvents
{
    /// <summary>
    /// What a webhook without an event filter receives: releases, rollbacks, gray releases, approvals, rejections by
    /// instances; rollout plans' steps and halts are in the gray family (<c>gray.plan.step</c>, <c>gray.plan.halt</c>, ...).
    /// </summary>
    public static readonly IReadOnlyList<string> Default =
    [
        "release.publish", "release.rollback", "release.request", "release.approve", "release.reject",
        "gray.*", "instance.reject",
    ];

    public const int MaxFilters = 32;

    public const int MaxFilterLength = 64;

    /// <summary>Whether <paramref name="type"/> matches a filter: the exact action, a family (<c>gray.*</c>), or <c>*</c> (every audited action).</summary>
    public static bool Matches(IReadOnlyList<string> filters, string type)
    {
        foreach (var f in filters.Count == 0 ? Default : filters)
        {
            if (f == "*" || f == type || (f.EndsWith(".*", StringComparison.Ordinal) && type.StartsWith(f[..^1], StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="hook"/> receives the event <paramref name="e"/>, written at <paramref name="revision"/>.</summary>
    public static bool Receives(Webhook hook, WebhookEvent e, long revision) =>
        revision > hook.CreateRevision
        && !e.Type.StartsWith("webhook.", StringComparison.Ordinal)
        && (hook.Env is null || hook.Env == e.Env)
        && (hook.Namespace is null || hook.Namespace == e.Namespace)
        && Matches(hook.Events, e.Type);

    /// <summary>The event an audit entry of <paramref name="app"/> describes (before the release ids are filled in).</summary>
    public static WebhookEvent Of(string app, AuditEntry entry, long revision, int index)
    {
        var parts = entry.Target.Split('/');
        var scoped = parts.Length >= 3 && parts[0] == app;
        return new WebhookEvent
        {
            Id = EventId(revision, index),
            Type = entry.Action,
            App = app,
            Env = parts.Length >= 2 && parts[0] == app ? parts[1] : null,
            Namespace = scoped ? parts[2] : null,
            Target = entry.Target,
            Actor = entry.Author,
            At = entry.At,
            Detail = entry.Detail,
            RequestId = entry.RequestId,
            Revision = revision,
        };
    }

    /// <summary><c>evt-{revision}-{index}</c>: the revision is the log's, so every member and every attempt derives the same id.</summary>
    public static string EventId(long revision, int index) => $"evt-{revision:D19}-{index}";

    /// <summary>Refuses filters that are not action names or families.</summary>
    public static IReadOnlyList<string> CheckFilters(IReadOnlyList<string>? filters)
    {
        var list = (filters ?? []).Select(f => f.Trim()).Where(f => f.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (list.Count > MaxFilters)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"a webhook lists {list.Count} event filters; the limit is {MaxFilters}");
        }

        foreach (var f in list)
        {
            var star = f.IndexOf('*', StringComparison.Ordinal);
            var characters = f.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_' or '*');
            var shape = f == "*" || star == -1 || (star == f.Length - 1 && f.Length > 2 && f[^2] == '.');
            var ok = f.Length <= MaxFilterLength && characters && shape;
            if (!ok)
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidArgument,
                    $"event filter '{f}' is not an action (release.publish), a family (gray.*) or * (at most {MaxFilterLength} characters: a-z, 0-9, '.', '-', '_')");
            }
        }

        return list;
    }
}
