namespace Sjd2Onnx;

/// <summary>How SJD2 sets the noise level of the drafts it feeds.</summary>
public enum Sjd2Schedule
{
    /// <summary>
    /// Noise follows the window: a draft's level is set by its position in the window, from clean at
    /// the front to σ_max at the end (a Karras ramp with one level per noisy position unless
    /// <see cref="Sjd2Options.DenoiseSteps"/> says otherwise). A draft is denoised by as many
    /// levels as the window moved, so it reaches the front clean whatever the window and the tokens
    /// committed per pass.
    /// </summary>
    Window,

    /// <summary>
    /// As published: every noisy draft takes one DDIM step per pass on a fixed grid of
    /// <see cref="Sjd2Options.DenoiseSteps"/> levels (default the model's <c>sjd2.steps</c>).
    /// </summary>
    PerPass,
}
