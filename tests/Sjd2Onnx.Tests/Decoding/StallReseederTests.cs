using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Tests;

/// <summary>The stall re-seeding rule: when it fires and which drafts it writes (its exactness is in the chi-square suites).</summary>
public sealed class StallReseederTests
{
    // 3 rows of 4 codes, each row followed by a forced end-of-line slot: 5 slots a row.
    private static readonly ImageLayout Layout = new(new ImageSpec(3, 4, 10, 12, 16, -1, 1), endOfLineId: 99);

    [Fact]
    public void FiresOnlyAfterTheThresholdOfOneTokenPassesInARow()
    {
        var reseeder = new StallReseeder(3, Layout, new PassStatistics());
        Assert.False(reseeder.AfterPass(committed: 1, fed: 16));
        Assert.False(reseeder.AfterPass(1, 16));
        Assert.False(reseeder.AfterPass(2, 16)); // a pass that commits more ends the run
        Assert.False(reseeder.AfterPass(1, 16));
        Assert.False(reseeder.AfterPass(1, 1));  // a one-token window is not a stall, and ends the run
        Assert.False(reseeder.AfterPass(1, 16));
        Assert.False(reseeder.AfterPass(1, 16));
        Assert.True(reseeder.AfterPass(1, 16));
        Assert.True(reseeder.AfterPass(1, 16));  // and every further stall of the run
        Assert.False(reseeder.AfterPass(5, 16));
    }

    [Fact]
    public void ZeroNeverFiresAndFiringIsCounted()
    {
        var statistics = new PassStatistics();
        var off = new StallReseeder(0, Layout, statistics);
        for (int i = 0; i < 10; i++) Assert.False(off.AfterPass(1, 16));
        var on = new StallReseeder(1, Layout, statistics);
        Assert.True(on.AfterPass(1, 16));
        Assert.True(on.AfterPass(1, 16));
        Assert.Equal(2, statistics.Reseeds);
    }

    [Fact]
    public void RepeatsTheNewTokenAlongItsRowAndCopiesTheCodeAboveBelowIt()
    {
        var drafts = new DraftState(Layout, 10, 16);
        for (int code = 0; code < Layout.CodeCount; code++) drafts.SetSampled(Layout.SlotOf(code), code % 10, new float[10]);
        // Row 0 committed as 1 2 3 4; the new token is code 5 (row 1, column 1), committed as 7.
        for (int code = 0; code < 4; code++) drafts.Commit(Layout.SlotOf(code), code + 1);
        drafts.Commit(Layout.SlotOf(4), 0);
        int newSlot = Layout.SlotOf(5);
        drafts.Commit(newSlot, 7);
        var reseeder = new StallReseeder(1, Layout, new PassStatistics());

        reseeder.Reseed(drafts, newSlot, Layout.SlotOf(11));

        Assert.Equal([1, 2, 3, 4, 0, 7, 7, 7, 0, 7, 7, 7], drafts.Current);
        for (int code = 6; code < 12; code++) Assert.True(drafts.IsOneHot(Layout.SlotOf(code)), $"code {code} should have a one-hot q");
    }

    [Fact]
    public void AfterAnEndOfLineTheNextRowCopiesTheRowAbove()
    {
        var drafts = new DraftState(Layout, 10, 16);
        for (int code = 0; code < 4; code++) drafts.Commit(Layout.SlotOf(code), code + 1);
        for (int code = 4; code < 8; code++) drafts.SetSampled(Layout.SlotOf(code), 9, new float[10]);
        int endOfLine = Layout.SlotOf(3) + 1;
        Assert.True(Layout.IsForced(endOfLine));
        var reseeder = new StallReseeder(1, Layout, new PassStatistics());

        reseeder.Reseed(drafts, endOfLine, Layout.SlotOf(7));

        Assert.Equal([1, 2, 3, 4], drafts.Current[4..8]);
    }
}
