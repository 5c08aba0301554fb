using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Keyspace;
using Conclave.Server.Node;
using Microsoft.AspNetCore.Builder;
using Grpc.AspNetCore.Server.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Conclave.Server.Config;

/// <summary>Wires the configuration center into the server: its port over the local member, gRPC and HTTP.</summary>
public static class ConfigCenterHosting
{
    public static IServiceCollection AddConfigCenter(this IServiceCollection services)
    {
        ConfigCenterMetrics.Publish();
        services.AddSingleton<IKeyValuePort, LocalKeyValuePort>();
        services.AddSingleton(sp => new ConfigCenterService(sp.GetRequiredService<IKeyValuePort>(), Options(sp).ConfigLimits, Options(sp).TimeProvider, Options(sp).ConfigMasterKeys));
        services.AddSingleton(sp => new DeliveryService(sp.GetRequiredService<IKeyValuePort>(), Options(sp).ConfigLimits, Options(sp).TimeProvider, Options(sp).ConfigMasterKeys));
        services.AddSingleton(sp => new PublicNamespaceService(sp.GetRequiredService<IKeyValuePort>(), Options(sp).ConfigLimits, Options(sp).TimeProvider));
        services.AddSingleton(sp => new ConfigRemovalService(sp.GetRequiredService<IKeyValuePort>(), Options(sp).TimeProvider));
        services.AddSingleton(sp => new ConfigTransferService(
            sp.GetRequiredService<IKeyValuePort>(), Options(sp).ConfigLimits, Options(sp).TimeProvider, Options(sp).ConfigMasterKeys, sp.GetRequiredService<ConfigCenterService>().CanRevealAsync));
        services.AddSingleton(sp => new CredentialService(sp.GetRequiredService<IKeyValuePort>(), Options(sp).ConfigLimits, Options(sp).TimeProvider));
        services.AddSingleton<ClientCallers>();
        services.AddSingleton<ReleaseEncodings>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<ConfigGrpcService>, ConfigServiceMethods>());
        services.AddSingleton<DeliveryFeed>();
        services.AddSingleton(sp => new AuditRetention(sp.GetRequiredService<IKeyValuePort>(), Options(sp).TimeProvider));
        services.AddHostedService<AuditPruner>();
        services.AddHostedService<RolloutDriver>();
        services.AddSingleton(sp => new ConfigCenter.Webhooks.WebhookService(sp.GetRequiredService<IKeyValuePort>(), Options(sp).ConfigLimits, Options(sp).TimeProvider, Options(sp).ConfigMasterKeys));
        services.AddHostedService<WebhookDispatcher>();
        return services;
    }

    private static ServerOptions Options(IServiceProvider services) => services.GetRequiredService<ConclaveNode>().Options;

    public static WebApplication MapConfigCenter(this WebApplication app)
    {
        app.MapGrpcService<ConfigGrpcService>();
        ConfigHttpApi.Map(app);
        return app;
    }
}
