using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// When the host starts, hands the Conclave providers (built before the container existed) the release validator
/// and the host's logging; when it stops, takes the validator back.
/// </summary>
internal sealed class ConclaveProviderAttachment(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var configuration = services.GetRequiredService<IConfiguration>();
        var validator = services.GetRequiredService<OptionsReleaseValidator>();
        var loggerFactory = services.GetService<ILoggerFactory>();
        foreach (var provider in configuration.GetConclaveProviders())
        {
            provider.UseValidator(validator);
            if (loggerFactory is not null)
            {
                provider.UseLoggerFactory(loggerFactory);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var provider in services.GetRequiredService<IConfiguration>().GetConclaveProviders())
        {
            provider.UseValidator(null);
        }

        return Task.CompletedTask;
    }
}
