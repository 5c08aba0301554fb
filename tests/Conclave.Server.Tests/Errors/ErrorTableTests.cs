using System.Net;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Client;
using Conclave.Cluster;
using Conclave.Server.Grpc;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Tests.Errors;

/// <summary>
/// Every reason a request can fail for, over the wire and back: what the server's edge (<see cref="ErrorMappingInterceptor"/>)
/// sends for it (etcd 3.4's status code and exact text, the <c>conclave-code</c> trailer) and the exception the .NET
/// client raises for it. The tables below are written out by hand, not computed from the code they check: a new
/// reason or error code without a row fails here, and so does a changed text.
/// </summary>
public sealed class ErrorTableTests(ErrorTableTests.Edge edge) : IClassFixture<ErrorTableTests.Edge>
{
    private static readonly Dictionary<ConsensusUnavailableReason, ErrorCode> ConsensusReasons = new()
    {
        [ConsensusUnavailableReason.NoLeader] = ErrorCode.NoLeader,
        [ConsensusUnavailableReason.LeaderUnreachable] = ErrorCode.NoLeader,
        [ConsensusUnavailableReason.NotLeader] = ErrorCode.NotLeader,
        [ConsensusUnavailableReason.LeaderChanged] = ErrorCode.LeaderChanged,
        [ConsensusUnavailableReason.ProposalTimedOut] = ErrorCode.Timeout,
        [ConsensusUnavailableReason.ReadTimedOut] = ErrorCode.Timeout,
        [ConsensusUnavailableReason.Stopping] = ErrorCode.Stopped,
        [ConsensusUnavailableReason.LogWriteFailed] = ErrorCode.LogWriteFailed,
        [ConsensusUnavailableReason.DiskFull] = ErrorCode.LogNoSpace,
        [ConsensusUnavailableReason.ApplyFailed] = ErrorCode.Internal,
    };

    private static readonly Dictionary<MembershipError, ErrorCode> MembershipReasons = new()
    {
        [MembershipError.BadUrl] = ErrorCode.MemberBadUrls,
        [MembershipError.PeerUrlExists] = ErrorCode.PeerUrlExists,
        [MembershipError.NotFound] = ErrorCode.MemberNotFound,
        [MembershipError.InProgress] = ErrorCode.Unhealthy,
        [MembershipError.NotEnoughMembers] = ErrorCode.MemberNotEnoughStarted,
        [MembershipError.NotSupported] = ErrorCode.NotCapable,
        [MembershipError.NotLearner] = ErrorCode.MemberNotLearner,
        [MembershipError.LearnerNotReady] = ErrorCode.LearnerNotReady,
    };

    /// <summary>Each code on the wire (etcd 3.4's texts, from etcd's api/v3rpc/rpctypes/error.go) and in the client.</summary>
    private static readonly Dictionary<ErrorCode, (StatusCode Status, string Text, Type Client, InvalidRequestReason? Invalid)> Codes = new()
    {
        [ErrorCode.KeyNotProvided] = (StatusCode.InvalidArgument, "etcdserver: key is not provided", typeof(InvalidRequestException), InvalidRequestReason.KeyNotProvided),
        [ErrorCode.KeyNotFound] = (StatusCode.InvalidArgument, "etcdserver: key not found", typeof(InvalidRequestException), InvalidRequestReason.Other),
        [ErrorCode.ValueProvided] = (StatusCode.InvalidArgument, "etcdserver: value is provided", typeof(InvalidRequestException), InvalidRequestReason.Other),
        [ErrorCode.LeaseProvided] = (StatusCode.InvalidArgument, "etcdserver: lease is provided", typeof(InvalidRequestException), InvalidRequestReason.Other),
        [ErrorCode.TooManyOps] = (StatusCode.InvalidArgument, "etcdserver: too many operations in txn request", typeof(InvalidRequestException), InvalidRequestReason.TooManyOperations),
        [ErrorCode.DuplicateKey] = (StatusCode.InvalidArgument, "etcdserver: duplicate key given in txn request", typeof(InvalidRequestException), InvalidRequestReason.DuplicateKey),
        [ErrorCode.RequestTooLarge] = (StatusCode.InvalidArgument, "etcdserver: request is too large", typeof(InvalidRequestException), InvalidRequestReason.RequestTooLarge),
        [ErrorCode.Compacted] = (StatusCode.OutOfRange, "etcdserver: mvcc: required revision has been compacted", typeof(CompactedRevisionException), null),
        [ErrorCode.FutureRevision] = (StatusCode.OutOfRange, "etcdserver: mvcc: required revision is a future revision", typeof(FutureRevisionException), null),
        [ErrorCode.NoSpace] = (StatusCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded", typeof(DatabaseSpaceExceededException), null),
        [ErrorCode.LeaseNotFound] = (StatusCode.NotFound, "etcdserver: requested lease not found", typeof(LeaseNotFoundException), null),
        [ErrorCode.LeaseExists] = (StatusCode.FailedPrecondition, "etcdserver: lease already exists", typeof(ConclaveException), null),
        [ErrorCode.LeaseTtlTooLarge] = (StatusCode.OutOfRange, "etcdserver: too large lease TTL", typeof(InvalidRequestException), InvalidRequestReason.ValueOutOfRange),
        [ErrorCode.NoLeader] = (StatusCode.Unavailable, "etcdserver: no leader", typeof(NoLeaderException), null),
        [ErrorCode.NotLeader] = (StatusCode.FailedPrecondition, "etcdserver: not leader", typeof(NoLeaderException), null),
        [ErrorCode.Timeout] = (StatusCode.Unavailable, "etcdserver: request timed out", typeof(RequestTimeoutException), null),
        [ErrorCode.Stopped] = (StatusCode.Unavailable, "etcdserver: server stopped", typeof(EndpointUnavailableException), null),
        [ErrorCode.Corrupt] = (StatusCode.DataLoss, "etcdserver: corrupt cluster", typeof(ConclaveException), null),
        [ErrorCode.MemberNotFound] = (StatusCode.NotFound, "etcdserver: member not found", typeof(ConclaveException), null),
        [ErrorCode.PeerUrlExists] = (StatusCode.FailedPrecondition, "etcdserver: Peer URLs already exists", typeof(ConclaveException), null),
        [ErrorCode.MemberBadUrls] = (StatusCode.InvalidArgument, "etcdserver: given member URLs are invalid", typeof(InvalidRequestException), InvalidRequestReason.Other),
        [ErrorCode.MemberNotEnoughStarted] = (StatusCode.FailedPrecondition, "etcdserver: re-configuration failed due to not enough started members", typeof(ConclaveException), null),
        [ErrorCode.MemberNotLearner] = (StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member", typeof(ConclaveException), null),
        [ErrorCode.LearnerNotReady] = (StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader", typeof(ConclaveException), null),
        [ErrorCode.NotSupportedForLearner] = (StatusCode.Unavailable, "etcdserver: rpc not supported for learner", typeof(EndpointUnavailableException), null),
        [ErrorCode.Unhealthy] = (StatusCode.Unavailable, "etcdserver: unhealthy cluster", typeof(EndpointUnavailableException), null),
        [ErrorCode.NotCapable] = (StatusCode.Unavailable, "etcdserver: not capable", typeof(EndpointUnavailableException), null),
        [ErrorCode.InvalidArgument] = (StatusCode.InvalidArgument, "etcdserver: invalid argument", typeof(InvalidRequestException), InvalidRequestReason.Other),
        [ErrorCode.Unimplemented] = (StatusCode.Unimplemented, "etcdserver: not implemented", typeof(ConclaveException), null),
        [ErrorCode.LeaderChanged] = (StatusCode.Unavailable, "etcdserver: leader changed", typeof(NoLeaderException), null),
        [ErrorCode.TimeoutDueToLeaderFail] = (StatusCode.Unavailable, "etcdserver: request timed out, possibly due to previous leader failure", typeof(RequestTimeoutException), null),
        [ErrorCode.TimeoutDueToConnectionLost] = (StatusCode.Unavailable, "etcdserver: request timed out, possibly due to connection lost", typeof(RequestTimeoutException), null),
        [ErrorCode.TooManyRequests] = (StatusCode.ResourceExhausted, "etcdserver: too many requests", typeof(ConclaveException), null),
        [ErrorCode.PermissionDenied] = (StatusCode.PermissionDenied, "etcdserver: permission denied", typeof(PermissionDeniedException), null),
        [ErrorCode.InvalidAuthToken] = (StatusCode.Unauthenticated, "etcdserver: invalid auth token", typeof(PermissionDeniedException), null),
        // etcd's auth errors (ADR 0014).
        [ErrorCode.RootUserNotExist] = (StatusCode.FailedPrecondition, "etcdserver: root user does not exist", typeof(ConclaveException), null),
        [ErrorCode.RootRoleNotExist] = (StatusCode.FailedPrecondition, "etcdserver: root user does not have root role", typeof(ConclaveException), null),
        [ErrorCode.UserAlreadyExists] = (StatusCode.FailedPrecondition, "etcdserver: user name already exists", typeof(ConclaveException), null),
        [ErrorCode.UserEmpty] = (StatusCode.InvalidArgument, "etcdserver: user name is empty", typeof(PermissionDeniedException), null),
        [ErrorCode.UserNotFound] = (StatusCode.FailedPrecondition, "etcdserver: user name not found", typeof(ConclaveException), null),
        [ErrorCode.RoleAlreadyExists] = (StatusCode.FailedPrecondition, "etcdserver: role name already exists", typeof(ConclaveException), null),
        [ErrorCode.RoleNotFound] = (StatusCode.FailedPrecondition, "etcdserver: role name not found", typeof(ConclaveException), null),
        [ErrorCode.RoleEmpty] = (StatusCode.InvalidArgument, "etcdserver: role name is empty", typeof(ConclaveException), null),
        [ErrorCode.AuthFailed] = (StatusCode.InvalidArgument, "etcdserver: authentication failed, invalid user ID or password", typeof(PermissionDeniedException), null),
        [ErrorCode.RoleNotGranted] = (StatusCode.FailedPrecondition, "etcdserver: role is not granted to the user", typeof(ConclaveException), null),
        [ErrorCode.PermissionNotGranted] = (StatusCode.FailedPrecondition, "etcdserver: permission is not granted to the role", typeof(ConclaveException), null),
        [ErrorCode.AuthNotEnabled] = (StatusCode.FailedPrecondition, "etcdserver: authentication is not enabled", typeof(ConclaveException), null),
        [ErrorCode.InvalidAuthManagement] = (StatusCode.InvalidArgument, "etcdserver: invalid auth management", typeof(ConclaveException), null),
        [ErrorCode.AuthOldRevision] = (StatusCode.InvalidArgument, "etcdserver: revision of auth store is old", typeof(PermissionDeniedException), null),
        [ErrorCode.ElectionNoLeader] = (StatusCode.Unknown, "election: no leader", typeof(ConclaveException), null),
        [ErrorCode.ElectionNotLeader] = (StatusCode.Unknown, "election: not leader", typeof(ConclaveException), null),
        // Conclave's own: etcd has no such error.
        [ErrorCode.SessionExpired] = (StatusCode.Unknown, "concurrency: session expired", typeof(ConclaveException), null),
        [ErrorCode.LogNoSpace] = (StatusCode.ResourceExhausted, "etcdserver: no space left on device: the member cannot write its log", typeof(ConclaveException), null),
        [ErrorCode.LogWriteFailed] = (StatusCode.Unavailable, "etcdserver: storage failure: the member cannot write its log", typeof(EndpointUnavailableException), null),
        [ErrorCode.Internal] = (StatusCode.Internal, "etcdserver: internal error", typeof(ConclaveException), null),
        [ErrorCode.TooManyWatches] = (StatusCode.ResourceExhausted, "etcdserver: too many watches", typeof(ConclaveException), null),
        [ErrorCode.TooManyLeases] = (StatusCode.ResourceExhausted, "etcdserver: too many leases", typeof(ConclaveException), null),
    };

    public static TheoryData<ConsensusUnavailableReason> EveryConsensusReason() => [.. Enum.GetValues<ConsensusUnavailableReason>()];

    public static TheoryData<MembershipError> EveryMembershipError() => [.. Enum.GetValues<MembershipError>()];

    public static TheoryData<ErrorCode> EveryErrorCode() => [.. Enum.GetValues<ErrorCode>()];

    [Theory]
    [MemberData(nameof(EveryConsensusReason))]
    public async Task Every_consensus_failure_goes_out_as_etcd_says_it_and_comes_back_typed(ConsensusUnavailableReason reason)
    {
        Assert.True(ConsensusReasons.TryGetValue(reason, out var code), $"no row for {reason}: decide what etcd says for it");
        await AssertRoundTripAsync($"consensus/{reason}", code);
    }

    [Theory]
    [MemberData(nameof(EveryMembershipError))]
    public async Task Every_refused_membership_change_goes_out_as_etcd_says_it_and_comes_back_typed(MembershipError error)
    {
        Assert.True(MembershipReasons.TryGetValue(error, out var code), $"no row for {error}: decide what etcd says for it");
        await AssertRoundTripAsync($"membership/{error}", code);
    }

    [Theory]
    [MemberData(nameof(EveryErrorCode))]
    public async Task Every_error_code_goes_out_with_its_text_and_comes_back_typed(ErrorCode code)
    {
        await AssertRoundTripAsync($"code/{code}", code);
    }

    [Theory]
    [MemberData(nameof(EveryErrorCode))]
    public async Task Without_the_trailer_as_from_a_real_etcd_the_client_recognises_the_text(ErrorCode code)
    {
        var error = await FailAsync($"etcd/{code}");
        Assert.Null(error.Trailer);
        AssertClient(code, error.Client);
    }

    [Fact]
    public async Task The_trailer_decides_over_the_text()
    {
        // A Conclave member says why; the text alone would read as "no leader".
        var error = await FailAsync("mixed/LeaderChanged/etcdserver: no leader");
        Assert.Equal(ErrorCode.LeaderChanged, error.Client.ErrorCode);

        // A code this client does not know (a newer server): judged by the status, never by the text.
        var unknown = await FailAsync("mixed/SomethingNew/etcdserver: request timed out");
        Assert.IsType<EndpointUnavailableException>(unknown.Client);
        Assert.Null(unknown.Client.ErrorCode);
    }

    [Fact]
    public async Task A_request_that_certainly_did_not_apply_says_so()
    {
        var applied = await FailAsync($"consensus/{ConsensusUnavailableReason.Stopping}");
        var notApplied = await FailAsync($"not-applied/{ConsensusUnavailableReason.Stopping}");

        Assert.Null(applied.NotApplied);
        Assert.Equal("true", notApplied.NotApplied);
        Assert.Equal("This member is stopping.", notApplied.Detail);
    }

    [Fact]
    public void No_two_codes_share_a_status_and_text()
    {
        var duplicates = Codes.GroupBy(static c => (c.Value.Status, c.Value.Text)).Where(static g => g.Count() > 1).Select(static g => g.Key.Text);
        Assert.Empty(duplicates);
    }

    private async Task AssertRoundTripAsync(string failure, ErrorCode code)
    {
        Assert.True(Codes.TryGetValue(code, out var expected), $"no row for {code}: write down its status, etcd's text and the client's exception");
        var error = await FailAsync(failure);
        Assert.Equal((expected.Status, expected.Text), (error.Status, error.Text));
        Assert.Equal(code.ToString(), error.Trailer);
        AssertClient(code, error.Client);
    }

    private static void AssertClient(ErrorCode code, ConclaveException client)
    {
        var expected = Codes[code];
        Assert.IsType(expected.Client, client);
        Assert.Equal(code, client.ErrorCode);
        Assert.Equal(expected.Text, client.ServerMessage);
        if (expected.Invalid is { } reason)
        {
            Assert.Equal(reason, ((InvalidRequestException)client).Reason);
        }
    }

    /// <summary>Makes the edge fail a Range with <paramref name="failure"/>: once raw over gRPC, once through the client.</summary>
    private async Task<Failure> FailAsync(string failure)
    {
        var raw = await Assert.ThrowsAsync<RpcException>(() => new KV.KVClient(edge.Channel).RangeAsync(Request(failure)).ResponseAsync);
        await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = [edge.Url], MaxAttempts = 1, RequestTimeout = TimeSpan.FromSeconds(30) });
        var typed = await Assert.ThrowsAnyAsync<ConclaveException>(async () => await client.GetAsync(failure));
        return new(
            raw.StatusCode,
            raw.Status.Detail,
            raw.Trailers.GetValue(ErrorCatalogue.CodeTrailer),
            raw.Trailers.GetValue(ErrorCatalogue.DetailTrailer),
            raw.Trailers.GetValue(ErrorCatalogue.NotAppliedTrailer),
            typed);
    }

    private static RangeRequest Request(string failure) => new() { Key = Google.Protobuf.ByteString.CopyFromUtf8(failure) };

    private sealed record Failure(StatusCode Status, string Text, string? Trailer, string? Detail, string? NotApplied, ConclaveException Client);

    /// <summary>
    /// A gRPC host with the server's error edge (<see cref="ErrorMappingInterceptor"/>) in front of a KV service whose
    /// Range fails as its key says: <c>consensus/Reason</c>, <c>not-applied/Reason</c>, <c>membership/Error</c>,
    /// <c>code/Code</c> (the internal exceptions), <c>etcd/Code</c> (status and text only, as etcd sends them) and
    /// <c>mixed/TrailerValue/text</c>.
    /// </summary>
    public sealed class Edge : IAsyncLifetime
    {
        private WebApplication? app;

        public string Url { get; private set; } = "";

        public global::Grpc.Net.Client.GrpcChannel Channel { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
            builder.Services.AddSingleton<ServerMetrics>();
            builder.Services.AddSingleton(TimeProvider.System); // the edge measures call durations on the member's clock
            builder.Services.AddGrpc(o => o.Interceptors.Add<ErrorMappingInterceptor>());
            app = builder.Build();
            app.MapGrpcService<FailingKv>();
            await app.StartAsync();
            Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            Channel = global::Grpc.Net.Client.GrpcChannel.ForAddress(Url);
        }

        public async Task DisposeAsync()
        {
            Channel?.Dispose();
            if (app is not null)
            {
                await app.DisposeAsync();
            }
        }
    }

    private sealed class FailingKv : KV.KVBase
    {
        public override Task<RangeResponse> Range(RangeRequest request, ServerCallContext context)
        {
            var parts = request.Key.ToStringUtf8().Split('/', 3);
            throw parts[0] switch
            {
                "consensus" => new ConsensusUnavailableException(Enum.Parse<ConsensusUnavailableReason>(parts[1]), "detail"),
                "not-applied" => new ConsensusUnavailableException(Enum.Parse<ConsensusUnavailableReason>(parts[1]), "This member is stopping.", notApplied: true),
                "membership" => new MembershipException(Enum.Parse<MembershipError>(parts[1]), "detail"),
                "code" => new ConclaveErrorException(Enum.Parse<ErrorCode>(parts[1]), "detail"),
                "etcd" => new RpcException(new Status(Codes[Enum.Parse<ErrorCode>(parts[1])].Status, Codes[Enum.Parse<ErrorCode>(parts[1])].Text)),
                "mixed" => new RpcException(new Status(StatusCode.Unavailable, parts[2]), new Metadata { { ErrorCatalogue.CodeTrailer, parts[1] } }),
                _ => new InvalidOperationException(parts[0]),
            };
        }
    }
}
