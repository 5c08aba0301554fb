using Conclave.Server.Http2;

namespace Conclave.Server.Tests.Http2;

public sealed class FrameReaderTests
{
    [Fact]
    public void Header_round_trips_and_ignores_the_reserved_bit()
    {
        var bytes = new byte[FrameHeader.Size];
        FrameHeader.Write(bytes, 0x01_02_03, FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 0x7fff_fffd);
        Assert.Equal("010203" + "01" + "05" + "7FFFFFFD", Convert.ToHexString(bytes));
        Assert.Equal(new FrameHeader(0x01_02_03, FrameType.Headers, 0x05, 0x7fff_fffd), FrameHeader.Read(bytes));

        bytes[5] |= 0x80;
        Assert.Equal(0x7fff_fffd, FrameHeader.Read(bytes).StreamId);
    }

    [Fact]
    public void Reads_consecutive_frames_and_waits_for_incomplete_ones()
    {
        // SETTINGS (one setting), PING, then the first 12 bytes of a 20-byte DATA frame.
        var buffer = Hex.Bytes("000006 04 00 00000000 0003 00000064" + "000008 06 00 00000000 0102030405060708" + "000014 00 01 00000001 000000000f 0a0b0c");

        Assert.True(FrameReader.TryRead(buffer, 16_384, out var settings));
        Assert.Equal(new FrameHeader(6, FrameType.Settings, 0, 0), settings);
        var at = FrameHeader.Size + settings.Length;
        Assert.True(FrameReader.TryRead(buffer.AsSpan(at), 16_384, out var ping));
        Assert.Equal(new FrameHeader(8, FrameType.Ping, 0, 0), ping);
        at += FrameHeader.Size + ping.Length;
        Assert.False(FrameReader.TryRead(buffer.AsSpan(at), 16_384, out var data));
        Assert.Equal(new FrameHeader(20, FrameType.Data, FrameFlags.EndStream, 1), data);
        Assert.False(FrameReader.TryRead(buffer.AsSpan(at, 5), 16_384, out _));
    }

    [Fact]
    public void A_frame_above_the_maximum_size_is_a_frame_size_error()
    {
        var e = Assert.Throws<Http2ProtocolException>(() => FrameReader.TryRead(Hex.Bytes("004001 00 00 00000001"), 16_384, out _));
        Assert.Equal(Http2ErrorCode.FrameSizeError, e.ErrorCode);
    }

    [Fact]
    public void Data_padding_is_stripped()
    {
        var header = new FrameHeader(8, FrameType.Data, FrameFlags.Padded, 1);
        var payload = Hex.Bytes("03 aabbcc dd 000000");
        Assert.Equal((1, 4), FrameReader.DataContent(header, payload));
        Assert.Equal((0, 8), FrameReader.DataContent(header with { Flags = 0 }, payload));
    }

    [Fact]
    public void Headers_padding_and_priority_are_stripped()
    {
        // Pad length 2, stream dependency (4) + weight (1), fragment 0x82 0x86, two bytes of padding.
        var header = new FrameHeader(10, FrameType.Headers, FrameFlags.Padded | FrameFlags.Priority | FrameFlags.EndHeaders, 3);
        var payload = Hex.Bytes("02 80000001 10 8286 0000");
        Assert.Equal((6, 2), FrameReader.HeaderBlockFragment(header, payload));
        Assert.Equal((5, 5), FrameReader.HeaderBlockFragment(header with { Flags = FrameFlags.Priority }, payload));
    }

    [Fact]
    public void Padding_longer_than_the_payload_is_a_protocol_error()
    {
        var e = Assert.Throws<Http2ProtocolException>(() => FrameReader.DataContent(new FrameHeader(3, FrameType.Data, FrameFlags.Padded, 1), Hex.Bytes("05 0000")));
        Assert.Equal(Http2ErrorCode.ProtocolError, e.ErrorCode);
    }

    [Fact]
    public void Settings_are_read_in_order_and_their_length_checked()
    {
        var seen = new List<(ushort, uint)>();
        FrameReader.ForEachSetting(Hex.Bytes("0003 00000064 0004 00ffffff 0005 00004000"), seen, static (list, id, value) => list.Add((id, value)));
        Assert.Equal([(3, 100u), (4, 0xff_ffffu), (5, 16_384u)], seen);

        var e = Assert.Throws<Http2ProtocolException>(() => FrameReader.ForEachSetting(Hex.Bytes("0003 000000"), seen, static (_, _, _) => { }));
        Assert.Equal(Http2ErrorCode.FrameSizeError, e.ErrorCode);
    }

    [Fact]
    public void Control_frames_are_written_as_the_rfc_lays_them_out()
    {
        var buffer = new byte[64];
        Assert.Equal("00000408000000000500001000", Convert.ToHexString(buffer, 0, FrameWriter.WindowUpdate(buffer, 5, 0x1000)));
        Assert.Equal("000004030000000007" + "00000008", Convert.ToHexString(buffer, 0, FrameWriter.RstStream(buffer, 7, Http2ErrorCode.Cancel)));
        Assert.Equal("000008060100000000" + "0102030405060708", Convert.ToHexString(buffer, 0, FrameWriter.PingAck(buffer, Hex.Bytes("0102030405060708"))));
        Assert.Equal("000000040100000000", Convert.ToHexString(buffer, 0, FrameWriter.SettingsAck(buffer)));
        Assert.Equal("00000C040000000000" + "000200000000" + "000401000000", Convert.ToHexString(buffer, 0, FrameWriter.Settings(buffer, [(2, 0), (4, 0x0100_0000)])));
        Assert.Equal("000008070000000000" + "00000009" + "00000001", Convert.ToHexString(buffer, 0, FrameWriter.GoAway(buffer, 9, Http2ErrorCode.ProtocolError)));
    }
}
