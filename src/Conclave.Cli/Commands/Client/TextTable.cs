using System.Text;

namespace Conclave.Cli.Commands.Client;

/// <summary>Renders rows as an aligned table with a header, in etcdctl's box style.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells) => _rows.Add(cells);

    public override string ToString()
    {
        var widths = new int[headers.Length];
        for (var c = 0; c < headers.Length; c++)
        {
            widths[c] = headers[c].Length;
            foreach (var row in _rows)
            {
                widths[c] = Math.Max(widths[c], row[c].Length);
            }
        }

        var text = new StringBuilder();
        Line(text, widths);
        Row(text, widths, headers);
        Line(text, widths);
        foreach (var row in _rows)
        {
            Row(text, widths, row);
        }

        Line(text, widths);
        return text.ToString();
    }

    private static void Line(StringBuilder text, int[] widths)
    {
        foreach (var width in widths)
        {
            text.Append('+').Append('-', width + 2);
        }

        text.Append('+').Append('\n');
    }

    private static void Row(StringBuilder text, int[] widths, string[] cells)
    {
        for (var c = 0; c < widths.Length; c++)
        {
            text.Append("| ").Append(cells[c].PadRight(widths[c])).Append(' ');
        }

        text.Append('|').Append('\n');
    }
}
