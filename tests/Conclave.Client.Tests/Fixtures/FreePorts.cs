using System.Net;
using System.Net.Sockets;

namespace Conclave.Client.Tests.Fixtures;

internal static class FreePorts
{
    /// <summary>Ports the OS just handed out as free; all listeners are held until every port is chosen, so they differ.</summary>
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

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
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
