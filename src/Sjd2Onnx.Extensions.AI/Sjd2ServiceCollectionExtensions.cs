using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sjd2Onnx.Extensions.AI;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="Sjd2ImageGenerator"/> as the app's <see cref="IImageGenerator"/>.</summary>
public static class Sjd2ServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="IImageGenerator"/> over the model that the configuration
    /// section <c>Sjd2</c> (or <paramref name="sectionName"/>) names, e.g.
    /// <c>{ "Sjd2": { "ModelPath": "onnx", "Method": "Sjd" } }</c>. The model is opened on first
    /// use and disposed with the container. Returns MEAI's builder, for middleware such as
    /// <c>.UseLogging()</c>.
    /// </summary>
    public static ImageGeneratorBuilder AddSjd2ImageGenerator(this IServiceCollection services, IConfiguration configuration, string sectionName = Sjd2ImageGeneratorOptions.DefaultSectionName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddSjd2ImageGenerator(builder => builder.Bind(configuration.GetSection(sectionName)));
    }

    /// <summary>Registers a singleton <see cref="IImageGenerator"/> configured in code; see the overload that binds configuration.</summary>
    public static ImageGeneratorBuilder AddSjd2ImageGenerator(this IServiceCollection services, Action<Sjd2ImageGeneratorOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddSjd2ImageGenerator(builder => builder.Configure(configure));
    }

    private static ImageGeneratorBuilder AddSjd2ImageGenerator(this IServiceCollection services, Action<OptionsBuilder<Sjd2ImageGeneratorOptions>> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<Sjd2ImageGeneratorOptions>();
        configure(options);
        options.Validate(o => !string.IsNullOrWhiteSpace(o.ModelPath), "Sjd2ImageGeneratorOptions.ModelPath is empty; set it to a model folder (configuration key Sjd2:ModelPath).");
        services.AddSingleton(sp => Sjd2ImageGenerator.Load(sp.GetRequiredService<IOptions<Sjd2ImageGeneratorOptions>>().Value, sp.GetService<ILoggerFactory>()));
        return services.AddImageGenerator(sp => sp.GetRequiredService<Sjd2ImageGenerator>());
    }
}
