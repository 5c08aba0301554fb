using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>The provider's log messages; event ids 6000-6049.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "Conclave {App}/{Environment}: loaded {Namespaces} from {Endpoint} (releases {Releases})")]
    public static partial void LoadedFromServer(ILogger logger, string app, string environment, string namespaces, string endpoint, string releases);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Conclave {App}/{Environment}: the service did not answer at start-up ({Reason}); running on the last-known-good cache {Path} (saved {SavedAt:o}, releases {Releases})")]
    public static partial void LoadedFromCache(ILogger logger, string app, string environment, string reason, string path, DateTimeOffset savedAt, string releases);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Conclave {App}/{Environment}: the service did not answer at start-up ({Reason}) and there is no usable cache; starting without Conclave keys (optional source)")]
    public static partial void StartedEmpty(ILogger logger, string app, string environment, string reason);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Information, Message = "Conclave {App}/{Environment}: applied {Namespace}#{ReleaseId}{Gray}; {ChangedKeys} key(s) changed")]
    public static partial void Applied(ILogger logger, string app, string environment, string @namespace, long releaseId, string gray, int changedKeys);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Warning, Message = "Conclave {App}/{Environment}: rejected {Namespace}#{ReleaseId}, keeping the previous values: {Reason}")]
    public static partial void Rejected(ILogger logger, string app, string environment, string @namespace, long releaseId, string reason);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Error, Message = "Conclave cache {Path} was rejected and not loaded: {Reason}")]
    public static partial void CacheRejected(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Warning, Message = "Conclave cache {Path} could not be written")]
    public static partial void CacheWriteFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Information, Message = "Conclave {App}/{Environment}: no cache key (option CacheKey or CONCLAVE_CACHE_KEY); the last-known-good cache is off")]
    public static partial void CacheOff(ILogger logger, string app, string environment);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Information, Message = "Conclave {App}/{Environment}: subscription connected")]
    public static partial void Connected(ILogger logger, string app, string environment);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Warning, Message = "Conclave {App}/{Environment}: subscription lost; reconnecting with back-off (values stay as they are)")]
    public static partial void Disconnected(ILogger logger, string app, string environment);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Warning, Message = "Conclave {App}/{Environment}: subscription failed; retrying in {Delay}")]
    public static partial void SubscriptionFailed(ILogger logger, string app, string environment, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Debug, Message = "Conclave {App}/{Environment}: delivery report for {Namespace}#{ReleaseId} failed")]
    public static partial void ReportFailed(ILogger logger, string app, string environment, string @namespace, long releaseId, Exception exception);

    [LoggerMessage(EventId = 6012, Level = LogLevel.Error, Message = "Conclave {App}/{Environment}: a Changed handler threw")]
    public static partial void ChangedHandlerFailed(ILogger logger, string app, string environment, Exception exception);

    [LoggerMessage(EventId = 6013, Level = LogLevel.Error, Message = "Conclave {App}/{Environment}: the service refused the access key; keeping the last known good values, trying again in {Delay}: {Reason}")]
    public static partial void AccessRefused(ILogger logger, string app, string environment, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 6014, Level = LogLevel.Information, Message = "Conclave {App}/{Environment}: the access key is accepted again; subscribing")]
    public static partial void AccessAccepted(ILogger logger, string app, string environment);

    [LoggerMessage(EventId = 6040, Level = LogLevel.Information, Message = "Conclave client for {Endpoints} (instance {InstanceId})")]
    public static partial void ClientCreated(ILogger logger, string endpoints, string? instanceId);
}
