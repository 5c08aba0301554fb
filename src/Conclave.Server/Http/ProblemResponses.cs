using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Conclave.Server.Http;

/// <summary>
/// The RFC 7807 answers a route under <c>/api/v1</c> can give, declared as endpoint metadata where the route (or its
/// group) is mapped, so that <c>/api/v1/openapi.json</c> (<see cref="ApiDocument"/>) lists them with the route's own
/// answers. The statuses come from the one table each refusal goes through: <see cref="Config.ConfigErrors"/> for the
/// center, <see cref="Config.ApiRefusals"/> for what is refused before an endpoint runs, the operator API's filter.
/// </summary>
internal static class ProblemResponses
{
    public const string ContentType = "application/problem+json";

    /// <summary>What any route under <c>/api/v1</c> may answer before its handler runs (<see cref="Config.ApiRefusals"/>).</summary>
    public static readonly int[] BeforeHandler = [StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge];

    /// <summary>A route behind sign-in while auth is enabled (<see cref="Security.Auth.HttpSignIn"/>).</summary>
    public static readonly int[] SignedIn = [.. BeforeHandler, StatusCodes.Status401Unauthorized];

    /// <summary>A read of the configuration center: its refusals (<see cref="Config.ConfigErrors"/>) a read can meet.</summary>
    public static readonly int[] CenterRead =
    [
        .. SignedIn, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound, StatusCodes.Status412PreconditionFailed,
        StatusCodes.Status503ServiceUnavailable,
    ];

    /// <summary>A change to the configuration center: a read's refusals and those of a write (conflict, invalid document, no space).</summary>
    public static readonly int[] CenterWrite =
    [
        .. CenterRead, StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status507InsufficientStorage,
    ];

    /// <summary>The raw keyspace and cluster views (<see cref="OperatorHttpApi"/>'s filter).</summary>
    public static readonly int[] Operator = [.. SignedIn, StatusCodes.Status403Forbidden, StatusCodes.Status503ServiceUnavailable];

    /// <summary>Declares <paramref name="statuses"/> as problem-detail answers of every endpoint the builder maps.</summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, params int[] statuses)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint => Add(endpoint, statuses));
        return builder;
    }

    /// <summary>
    /// Declares <paramref name="reads"/> for the GET endpoints the builder maps and <paramref name="writes"/> for the others.
    /// </summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, int[] reads, int[] writes)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            var methods = endpoint.Metadata.OfType<IHttpMethodMetadata>().SelectMany(m => m.HttpMethods).ToList();
            Add(endpoint, methods.Count > 0 && methods.All(m => m is "GET" or "HEAD") ? reads : writes);
        });
        return builder;
    }

    private static void Add(EndpointBuilder endpoint, int[] statuses)
    {
        foreach (var status in statuses)
        {
            if (!endpoint.Metadata.OfType<IProducesResponseTypeMetadata>().Any(m => m.StatusCode == status))
            {
                endpoint.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(ProblemDetails), [ContentType]) { Description = DescriptionOf(status) });
            }
        }
    }

    /// <summary>What the status means on <c>/api/v1</c>; the problem's <c>code</c> and <c>detail</c> say which case it is.</summary>
    internal static string DescriptionOf(int status) => status switch
    {
        StatusCodes.Status400BadRequest => "The request is not valid: a value that does not bind (malformed JSON, an unknown enum value, a wrong type), or one the call refuses; the detail names it.",
        StatusCodes.Status401Unauthorized => "Sign-in required: auth is enabled and the request carries no valid bearer token, session cookie or (client endpoints) app credential.",
        StatusCodes.Status403Forbidden => "The caller lacks the permission or role this call needs.",
        StatusCodes.Status404NotFound => "What the path names (app, environment, namespace, release, key...) does not exist.",
        StatusCodes.Status409Conflict => "It already exists, or a concurrent edit came first (code AlreadyExists or Conflict; currentRevision when a guard failed).",
        StatusCodes.Status410Gone => "The revision asked for was compacted away.",
        StatusCodes.Status412PreconditionFailed => "A precondition of the call does not hold (code FailedPrecondition), or a secret cannot be read now (code SecretUnavailable).",
        StatusCodes.Status413PayloadTooLarge => "The request body, or what it would store, is over this member's limit (code TooLarge names it).",
        StatusCodes.Status422UnprocessableEntity => "The document does not parse or does not match its schema (code InvalidDocument or InvalidSchema, with line and column).",
        StatusCodes.Status429TooManyRequests => "Too many such requests are running on this member; try again shortly.",
        StatusCodes.Status503ServiceUnavailable => "No leader, a leader change or a timeout (code Unavailable; notApplied says whether the change certainly did not apply); Retry-After says when to try again.",
        StatusCodes.Status507InsufficientStorage => "The cluster's space quota is exhausted (code NoSpace).",
        _ => "Refused; the problem's code and detail say why.",
    };
}
