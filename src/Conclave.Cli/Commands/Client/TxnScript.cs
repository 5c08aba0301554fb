using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>A transaction as read from etcdctl's txn syntax.</summary>
internal sealed record TxnScript(IReadOnlyList<Compare> Compares, IReadOnlyList<Op> Success, IReadOnlyList<Op> Failure);
