using Conclave.Bench;

// conclave-bench: the load generator behind bench/compare-etcd*.sh and bench/wal-bound.sh. Run it through
// bench/conclave-bench, which publishes it like ./conclave publishes the server.
return await BenchCommand.Create().Parse(args).InvokeAsync();
