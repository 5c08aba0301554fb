namespace Conclave.ConfigCenter.Model;

/// <summary>A credential just created, with its access key <c>{id}.{secret}</c>: shown this once, never again.</summary>
public sealed record IssuedCredential(CredentialView Credential, string AccessKey);
