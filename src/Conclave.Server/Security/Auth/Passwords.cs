using System.Text;
using Conclave.Api.Errors;
using Conclave.Storage.Auth;

namespace Conclave.Server.Security.Auth;

/// <summary>
/// Password hashing and checking with bcrypt (etcd's KDF; BCrypt.Net-Next, the maintained .NET port). A check costs
/// tens of milliseconds of CPU by design, so checks are bounded: a few run at once, a short queue (twice as many) waits, and beyond it
/// callers are told to come back later instead of every core being spent guessing passwords.
/// </summary>
internal sealed class Passwords : IDisposable
{
    // A real hash to check against when the user does not exist, so an unknown user costs as much as a wrong password
    // and the time of an answer does not tell which names exist.
    private readonly string decoy;
    private readonly SemaphoreSlim running;
    private readonly int maxPending;
    private int pending;

    public Passwords(AuthSettings settings)
    {
        if (settings.BcryptCost is < 4 or > 31)
        {
            throw new ArgumentException($"--bcrypt-cost {settings.BcryptCost}: must be 4 to 31");
        }

        Cost = settings.BcryptCost;
        running = new SemaphoreSlim(settings.ConcurrentPasswordChecks, settings.ConcurrentPasswordChecks);
        maxPending = settings.ConcurrentPasswordChecks * 3;
        decoy = BCrypt.Net.BCrypt.HashPassword(Convert.ToHexString(Guid.NewGuid().ToByteArray()), Cost);
    }

    public int Cost { get; }

    /// <summary>The hash to store for <paramref name="password"/>.</summary>
    /// <exception cref="ConclaveErrorException">Empty, or longer than bcrypt reads (it would be cut silently).</exception>
    public async Task<string> HashAsync(string password, CancellationToken cancellationToken)
    {
        CheckAcceptable(password);
        return await RunAsync(() => BCrypt.Net.BCrypt.HashPassword(password, Cost), cancellationToken);
    }

    /// <summary>
    /// A hash an etcd 3.5+ client computed itself (<c>hashedPassword</c>): accepted if it is a bcrypt hash, which is
    /// what etcd stores.
    /// </summary>
    public static string AcceptHashed(string hash)
    {
        if (hash.Length != 60 || !(hash.StartsWith("$2a$", StringComparison.Ordinal) || hash.StartsWith("$2b$", StringComparison.Ordinal) || hash.StartsWith("$2y$", StringComparison.Ordinal)))
        {
            throw new ConclaveErrorException(ErrorCode.InvalidArgument, "hashedPassword must be a bcrypt hash ($2a$/$2b$/$2y$, 60 characters), as etcd stores");
        }

        return hash;
    }

    /// <summary>Whether <paramref name="password"/> is <paramref name="user"/>'s (false for no user, or a user without a password).</summary>
    public Task<bool> VerifyAsync(AuthUser? user, string password, CancellationToken cancellationToken)
    {
        var hash = user?.PasswordHash;
        var usable = hash is not null && !string.IsNullOrEmpty(password) && Encoding.UTF8.GetByteCount(password) <= AuthStore.MaxPasswordBytes;
        return RunAsync(() =>
        {
            try
            {
                var matches = BCrypt.Net.BCrypt.Verify(usable ? password : "decoy", usable ? hash : decoy);
                return usable && matches;
            }
            catch (BCrypt.Net.SaltParseException)
            {
                return false; // a stored hash this library cannot read: no password matches it
            }
        }, cancellationToken);
    }

    private static void CheckAcceptable(string password)
    {
        if (string.IsNullOrEmpty(password))
        {
            throw new ConclaveErrorException(ErrorCode.InvalidArgument, "the password is empty (add the user with no password to sign in by certificate only)");
        }

        if (Encoding.UTF8.GetByteCount(password) > AuthStore.MaxPasswordBytes)
        {
            throw new ConclaveErrorException(ErrorCode.InvalidArgument, $"the password is longer than {AuthStore.MaxPasswordBytes} bytes, which bcrypt would cut silently");
        }
    }

    private async Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref pending) > maxPending)
        {
            Interlocked.Decrement(ref pending);
            throw new ConclaveErrorException(ErrorCode.TooManyRequests, "too many password checks are running or waiting; try again shortly");
        }

        try
        {
            await running.WaitAsync(cancellationToken);
            try
            {
                return await Task.Run(work, cancellationToken);
            }
            finally
            {
                running.Release();
            }
        }
        finally
        {
            Interlocked.Decrement(ref pending);
        }
    }

    public void Dispose() => running.Dispose();
}
