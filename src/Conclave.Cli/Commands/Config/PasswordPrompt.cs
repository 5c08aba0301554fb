using System.Text;

namespace Conclave.Cli.Commands.Config;

/// <summary>Reads a password: from the terminal without echo, or one line from standard input when it is redirected.</summary>
internal static class PasswordPrompt
{
    public static string Read(string prompt, TextWriter stderr)
    {
        if (Console.IsInputRedirected)
        {
            return Console.In.ReadLine() ?? throw new ArgumentException("no password on standard input");
        }

        stderr.Write(prompt);
        var password = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                stderr.WriteLine();
                return password.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (password.Length > 0)
                {
                    password.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }
    }
}
