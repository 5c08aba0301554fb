using Conclave.Api.Errors;
using Conclave.Server.Grpc;
using Conclave.Server.Tests.Fixtures;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Tests.Errors;

/// <summary>
/// An unexpected exception reaches the caller only as etcd-style "internal error", never with its .NET message
/// (which can name files, types and state); it is logged on the member, once, with its stack trace. Expected,
/// typed errors keep etcd's text and their detail trailer.
/// </summary>
public sealed class InternalErrorTests
{
    private const string Secret = "Sequence contains no elements at /var/lib/conclave/member/snap/0042.snap (KeyValueStore.ApplyTxn)";

    [Fact]
    public void Unexpected_exception_goes_out_as_a_generic_internal_error_and_is_logged_once_with_its_stack()
    {
        var log = new RecordingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Trace));
        using var metrics = new ServerMetrics();
        var edge = new ErrorMappingInterceptor(metrics, TimeProvider.System, factory.CreateLogger<ErrorMappingInterceptor>());

        var rpc = edge.Map(Thrown(new InvalidOperationException(Secret)), "Txn", CancellationToken.None);

        Assert.Equal((StatusCode.Internal, "etcdserver: internal error"), (rpc.StatusCode, rpc.Status.Detail));
        Assert.DoesNotContain(rpc.Trailers, t => !t.IsBinary && t.Value.Contains("snap", StringComparison.Ordinal));
        Assert.DoesNotContain("snap", rpc.Message, StringComparison.Ordinal);
        var entry = Assert.Single(log.Entries);
        Assert.Equal((LogLevel.Error, 3300), (entry.Level, entry.EventId.Id));
        Assert.Equal(Secret, entry.Exception?.Message);
        Assert.NotNull(entry.Exception?.StackTrace);
    }

    [Fact]
    public void Expected_errors_keep_etcds_text_and_their_detail_and_are_not_logged()
    {
        var log = new RecordingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Trace));
        using var metrics = new ServerMetrics();
        var edge = new ErrorMappingInterceptor(metrics, TimeProvider.System, factory.CreateLogger<ErrorMappingInterceptor>());

        var typed = edge.Map(new ConclaveErrorException(ErrorCode.TooManyOps, "txn: 200 compares; the limit is 128"), "Txn", CancellationToken.None);
        var cancelled = edge.Map(new OperationCanceledException(), "Txn", new CancellationToken(canceled: true));

        Assert.Equal((StatusCode.InvalidArgument, "etcdserver: too many operations in txn request"), (typed.StatusCode, typed.Status.Detail));
        Assert.Equal("txn: 200 compares; the limit is 128", typed.Trailers.GetValue(ErrorCatalogue.DetailTrailer));
        Assert.Equal(StatusCode.Cancelled, cancelled.StatusCode);
        Assert.Empty(log.Entries);
    }

    private static Exception Thrown(Exception e)
    {
        try
        {
            throw e;
        }
        catch (Exception caught)
        {
            return caught;
        }
    }
}
