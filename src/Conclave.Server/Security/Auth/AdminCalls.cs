using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Conclave.Server.Security.Auth;

/// <summary>
/// The gRPC methods only the root role may call while auth is enabled (ADR 0014), checked before the method runs:
/// etcd's admin-only maintenance and membership calls. Calls that change the auth store, compaction and alarm changes
/// are checked where they are applied instead (and at their edge), since they go through the log.
/// </summary>
internal sealed class AdminCalls(Authenticator authenticator, Node.ConclaveNode node) : Interceptor
{
    public static readonly IReadOnlySet<string> Methods = new HashSet<string>(StringComparer.Ordinal)
    {
        "/etcdserverpb.Maintenance/Defragment",
        "/etcdserverpb.Maintenance/Hash",
        "/etcdserverpb.Maintenance/HashKV",
        "/etcdserverpb.Maintenance/MoveLeader",
        "/etcdserverpb.Maintenance/Snapshot",
        "/etcdserverpb.Cluster/MemberAdd",
        "/etcdserverpb.Cluster/MemberRemove",
        "/etcdserverpb.Cluster/MemberUpdate",
        "/etcdserverpb.Cluster/MemberPromote",
    };

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        if (Methods.Contains(context.Method))
        {
            node.Store.Auth.CheckAdmin(authenticator.Resolve(context));
        }
    }
}
