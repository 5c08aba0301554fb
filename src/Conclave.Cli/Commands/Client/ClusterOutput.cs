using System.Globalization;
using System.Text;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>Prints endpoint status and member lists in etcdctl's layouts.</summary>
internal static class ClusterOutput
{
    public static string Status(IReadOnlyList<EndpointStatus> statuses, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                return JsonText.Write(json =>
                {
                    json.WriteStartArray();
                    foreach (var s in statuses)
                    {
                        json.WriteStartObject();
                        json.WriteString("endpoint", s.Endpoint);
                        json.WriteString("member_id", Hex(s.MemberId));
                        json.WriteString("cluster_id", Hex(s.ClusterId));
                        json.WriteString("version", s.Version);
                        json.WriteNumber("db_size", s.DbSize);
                        json.WriteNumber("db_size_in_use", s.DbSizeInUse);
                        json.WriteString("leader", Hex(s.Leader));
                        json.WriteBoolean("is_leader", s.IsLeader);
                        json.WriteBoolean("is_learner", s.IsLearner);
                        json.WriteNumber("raft_term", s.RaftTerm);
                        json.WriteNumber("raft_index", s.RaftIndex);
                        json.WriteNumber("raft_applied_index", s.RaftAppliedIndex);
                        json.WriteNumber("revision", s.Revision);
                        json.WriteStartArray("errors");
                        foreach (var error in s.Errors)
                        {
                            json.WriteStringValue(error);
                        }

                        json.WriteEndArray();
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                }) + "\n";
            case OutputFormat.Table:
                var table = new TextTable("ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS");
                foreach (var s in statuses)
                {
                    table.Add(StatusCells(s));
                }

                return statuses.Count == 0 ? string.Empty : table.ToString();
            default:
                var text = new StringBuilder();
                foreach (var s in statuses)
                {
                    text.AppendJoin(", ", StatusCells(s)).Append('\n');
                }

                return text.ToString();
        }
    }

    public static string Members(IReadOnlyList<MemberInfo> members, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                return JsonText.Write(json =>
                {
                    json.WriteStartObject();
                    json.WriteStartArray("members");
                    foreach (var m in members)
                    {
                        json.WriteStartObject();
                        json.WriteString("id", Hex(m.Id));
                        json.WriteString("name", m.Name);
                        json.WriteString("status", m.IsStarted ? "started" : "unstarted");
                        json.WriteStartArray("peer_urls");
                        foreach (var url in m.PeerUrls)
                        {
                            json.WriteStringValue(url);
                        }

                        json.WriteEndArray();
                        json.WriteStartArray("client_urls");
                        foreach (var url in m.ClientUrls)
                        {
                            json.WriteStringValue(url);
                        }

                        json.WriteEndArray();
                        json.WriteBoolean("is_learner", m.IsLearner);
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                    json.WriteEndObject();
                }) + "\n";
            case OutputFormat.Table:
                var table = new TextTable("ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER");
                foreach (var m in members)
                {
                    table.Add(MemberCells(m));
                }

                return table.ToString();
            default:
                var text = new StringBuilder();
                foreach (var m in members)
                {
                    text.AppendJoin(", ", MemberCells(m)).Append('\n');
                }

                return text.ToString();
        }
    }

    /// <summary>
    /// etcdctl's answer to <c>member add</c>, with the <c>conclave serve</c> flags that start the new member instead
    /// of etcd's environment variables.
    /// </summary>
    public static string MemberAdded(MemberChangeResult result, string name, OutputFormat format)
    {
        var initialCluster = string.Join(",", result.Members
            .Where(m => m.Id == result.Member.Id || m.IsStarted)
            .SelectMany(m => m.PeerUrls.Select(u => $"{(m.Id == result.Member.Id ? name : m.Name)}={u}")));
        var peerUrl = result.Member.PeerUrls.FirstOrDefault() ?? "";
        if (format == OutputFormat.Json)
        {
            return JsonText.Write(json =>
            {
                json.WriteStartObject();
                json.WriteString("id", Hex(result.Member.Id));
                json.WriteString("cluster_id", Hex(result.ClusterId));
                json.WriteBoolean("is_learner", result.Member.IsLearner);
                json.WriteString("initial_cluster", initialCluster);
                json.WriteEndObject();
            }) + "\n";
        }

        return $"Member {Hex(result.Member.Id)} added to cluster {Hex(result.ClusterId)}{(result.Member.IsLearner ? " as a learner" : "")}\n\n" +
            "Start it with its own data directory and client/HTTP URLs:\n" +
            $"conclave serve --name {name} --data-dir <dir> --listen-client-urls <url> --listen-http-urls <url> " +
            $"--listen-peer-urls {peerUrl} --initial-cluster {initialCluster} --initial-cluster-state existing\n";
    }

    /// <summary>etcdctl's answer to <c>member remove</c> and <c>member promote</c>.</summary>
    public static string MemberChanged(string what, ulong id, IReadOnlyList<MemberInfo> members, OutputFormat format) =>
        format == OutputFormat.Simple ? $"Member {Hex(id)} {what}\n" : Members(members, format);

    /// <summary>A member id as <c>member list</c> prints it (hex).</summary>
    public static ulong ParseId(string text) =>
        ulong.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new ArgumentException($"'{text}' is not a member id (hex, as member list prints it)");

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture) + " GB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.#", CultureInfo.InvariantCulture) + " MB",
        >= 1000 => (bytes / 1000.0).ToString("0.#", CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    private static string[] StatusCells(EndpointStatus s) =>
    [
        Display(s.Endpoint),
        Hex(s.MemberId),
        s.Version,
        Bytes(s.DbSize),
        s.IsLeader ? "true" : "false",
        s.IsLearner ? "true" : "false",
        s.RaftTerm.ToString(CultureInfo.InvariantCulture),
        s.RaftIndex.ToString(CultureInfo.InvariantCulture),
        s.RaftAppliedIndex.ToString(CultureInfo.InvariantCulture),
        string.Join("; ", s.Errors),
    ];

    private static string[] MemberCells(MemberInfo m) =>
    [
        Hex(m.Id),
        m.IsStarted ? "started" : "unstarted",
        m.Name,
        string.Join(",", m.PeerUrls),
        string.Join(",", m.ClientUrls),
        m.IsLearner ? "true" : "false",
    ];

    private static string Hex(ulong id) => id.ToString("x", CultureInfo.InvariantCulture);

    // etcdctl shows endpoints as given (host:port); ours are normalized to URLs.
    private static string Display(string endpoint) =>
        endpoint.StartsWith("http://", StringComparison.Ordinal) ? endpoint["http://".Length..] : endpoint;
}
