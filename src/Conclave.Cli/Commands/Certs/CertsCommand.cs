using System.CommandLine;
using System.Globalization;

namespace Conclave.Cli.Commands.Certs;

/// <summary>
/// <c>conclave certs init|member|client</c>: a local CA and the certificates a TLS cluster needs (one per member, one
/// per client user), in one folder. Private keys are written readable by their owner only.
/// </summary>
internal static class CertsCommand
{
    public static Command Create()
    {
        var dir = new Option<string>("--dir") { Description = "Folder holding the CA and the certificates.", DefaultValueFactory = _ => "certs", Recursive = true };
        var days = new Option<int?>("--days") { Description = "Validity in days: 3650 for the CA, 825 for member and client certificates unless given; never beyond the CA's.", Recursive = true };

        var force = new Option<bool>("--force") { Description = "Replace an existing CA (certificates it signed stop being trusted)." };
        var caName = new Option<string>("--common-name") { Description = "The CA's common name.", DefaultValueFactory = _ => "Conclave local CA" };
        var init = new Command("init", "Create a certificate authority (ca.crt, ca.key) in --dir.") { force, caName };
        init.SetAction((parse, _) => RunAsync(parse, "init", output =>
        {
            var directory = Path.GetFullPath(parse.GetValue(dir)!);
            using var ca = LocalCertificateAuthority.Create(directory, parse.GetValue(caName)!, Validity(parse.GetValue(days), 3650), TimeProvider.System, parse.GetValue(force));
            output.WriteLine($"CA created: {Path.Combine(directory, LocalCertificateAuthority.CertificateFile)} (key {Path.Combine(directory, LocalCertificateAuthority.KeyFile)}, owner-only), valid until {Format(ca.Certificate.NotAfter)}");
            output.WriteLine($"SHA-256 fingerprint {ca.Certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)}");
        }));

        var memberName = new Argument<string>("name") { Description = "The member's name (the certificate's common name and file name)." };
        var hosts = new Option<string[]>("--hosts")
        {
            Description = "DNS names and IP addresses the member is reached at, comma separated (default: the name, localhost, 127.0.0.1, ::1).",
            AllowMultipleArgumentsPerToken = true,
        };
        var member = new Command("member", "Issue a member certificate (server and peer authentication) signed by the CA in --dir.") { memberName, hosts };
        member.SetAction((parse, _) => RunAsync(parse, "member", output =>
        {
            var name = parse.GetValue(memberName)!;
            var names = (parse.GetValue(hosts) ?? [])
                .SelectMany(static h => h.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .Distinct(StringComparer.OrdinalIgnoreCase)
                .ToList();
            if (names.Count == 0)
            {
                names = [name, "localhost", "127.0.0.1", "::1"];
            }

            using var ca = LocalCertificateAuthority.Open(Path.GetFullPath(parse.GetValue(dir)!));
            var issued = ca.IssueMember(name, names, Validity(parse.GetValue(days), 825), TimeProvider.System);
            output.WriteLine($"member certificate for {name} ({string.Join(", ", names)}): {issued.CertificatePath}, key {issued.KeyPath} (owner-only), valid until {Format(issued.NotAfter)}");
        }));

        var userName = new Argument<string>("user") { Description = "The user name (the certificate's common name, which a member with client certificate authentication takes as the user)." };
        var client = new Command("client", "Issue a client certificate signed by the CA in --dir.") { userName };
        client.SetAction((parse, _) => RunAsync(parse, "client", output =>
        {
            using var ca = LocalCertificateAuthority.Open(Path.GetFullPath(parse.GetValue(dir)!));
            var issued = ca.IssueClient(parse.GetValue(userName)!, Validity(parse.GetValue(days), 825), TimeProvider.System);
            output.WriteLine($"client certificate for {parse.GetValue(userName)}: {issued.CertificatePath}, key {issued.KeyPath} (owner-only), valid until {Format(issued.NotAfter)}");
        }));

        return new Command("certs", "A local certificate authority and the certificates for members and clients.") { dir, days, init, member, client };
    }

    private static TimeSpan Validity(int? days, int defaultDays) => TimeSpan.FromDays(days ?? defaultDays);

    private static string Format(DateTime utc) => utc.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    private static async Task<int> RunAsync(ParseResult parse, string verb, Action<TextWriter> action)
    {
        var output = parse.InvocationConfiguration.Output;
        try
        {
            if (parse.GetValue<int?>("--days") is <= 0)
            {
                throw new CertificateFileException("--days must be positive.");
            }

            action(output);
            return 0;
        }
        catch (Exception e) when (e is CertificateFileException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            await parse.InvocationConfiguration.Error.WriteLineAsync($"conclave certs {verb}: {e.Message}");
            return 1;
        }
    }
}
