namespace Conclave.Testing;

/// <summary>A fresh directory under <see cref="Path.GetTempPath"/>, deleted with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    private TempDirectory(string path) => Path = path;

    public string Path { get; }

    public static TempDirectory Create(string prefix = "conclave-test-") =>
        new(Directory.CreateTempSubdirectory(prefix).FullName);

    /// <summary>A path inside this directory (not created).</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Deletes the directory, unless <c>CONCLAVE_TEST_KEEP_DATA=1</c> asks to keep it for a post-mortem.</summary>
    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("CONCLAVE_TEST_KEEP_DATA") == "1")
        {
            Console.Error.WriteLine($"kept test data in {Path}");
            return;
        }

        DeleteQuietly(Path);
    }

    /// <summary>Deletes a directory tree, retrying briefly while a just-killed process still holds a file.</summary>
    public static void DeleteQuietly(string path)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }

                return;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            Thread.Sleep(50 * (attempt + 1));
        }
    }
}
