using System.Net;
using System.Net.Sockets;

namespace Conclave.Testing;

/// <summary>Loopback ports the OS just handed out as free.</summary>
public static class FreePorts
{
    /// <summary>
    /// Takes <paramref name="count"/> distinct free ports: every listener is held until all are chosen. The
    /// ports are free only at the time of the call; whoever binds them must cope with losing a race.
    /// </summary>
    public static int[] Take(int count)
    {
        var listeners = new TcpListener[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
            }

            return [.. listeners.Select(static l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener?.Stop();
            }
        }
    }
}
