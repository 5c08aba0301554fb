using System.Collections.Concurrent;
using System.Collections.Immutable;
using Conclave.Api.Auth;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Google.Protobuf;

namespace Conclave.Storage.Auth;

/// <summary>A user of the auth store. <see cref="PasswordHash"/> is a bcrypt hash (etcd's format), null without a password.</summary>
public sealed record AuthUser(string Name, string? PasswordHash, ImmutableSortedSet<string> Roles, bool NoPassword, long CredentialRevision)
{
    public bool HasRootRole => Roles.Contains(AuthState.RootRole);
}

/// <summary>A role: its permissions sorted by key, then range end.</summary>
public sealed record AuthRole(string Name, ImmutableArray<Permission> Permissions);

/// <summary>
/// The auth store at one point of the log (ADR 0014): immutable, so the edges read it without locks while the state
/// machine builds the next one. Checks follow etcd: with auth disabled everything is allowed; otherwise a request needs
/// a user, the user must exist, and the root role may do anything; others need a permission covering the whole range.
/// </summary>
public sealed class AuthState
{
    public const string RootUser = "root";
    public const string RootRole = "root";

    private readonly ConcurrentDictionary<string, (KeyIntervals Read, KeyIntervals Write)> permissions = new(StringComparer.Ordinal);

    internal AuthState(bool enabled, long revision, byte[] tokenKey, ImmutableSortedDictionary<string, AuthUser> users, ImmutableSortedDictionary<string, AuthRole> roles)
    {
        Enabled = enabled;
        Revision = revision;
        TokenKey = tokenKey;
        Users = users;
        Roles = roles;
    }

    public static AuthState Initial { get; } = new(false, 0, [],
        ImmutableSortedDictionary.Create<string, AuthUser>(StringComparer.Ordinal), ImmutableSortedDictionary.Create<string, AuthRole>(StringComparer.Ordinal));

    public bool Enabled { get; }

    /// <summary>Counts every change of the store (etcd's auth revision).</summary>
    public long Revision { get; }

    /// <summary>The key the cluster's simple tokens are signed with, drawn when auth was last enabled.</summary>
    public ReadOnlyMemory<byte> TokenKey { get; }

    public ImmutableSortedDictionary<string, AuthUser> Users { get; }

    public ImmutableSortedDictionary<string, AuthRole> Roles { get; }

    public AuthUser? FindUser(string? name) => name is not null && Users.TryGetValue(name, out var user) ? user : null;

    /// <summary>Whether <paramref name="user"/> may do anything: auth is off, or the user holds the root role.</summary>
    public bool IsAdmin(string? user) => !Enabled || FindUser(user)?.HasRootRole == true;

    /// <summary>etcd's admin check (auth, user and role management, compaction, alarms, member changes, maintenance).</summary>
    /// <exception cref="ConclaveErrorException">No user, an unknown user, or a user without the root role.</exception>
    public void CheckAdmin(string? user)
    {
        if (!Enabled)
        {
            return;
        }

        if (string.IsNullOrEmpty(user))
        {
            throw new ConclaveErrorException(ErrorCode.UserEmpty, "auth is enabled and the request names no user (authenticate, or present a client certificate)");
        }

        var found = FindUser(user) ?? throw new ConclaveErrorException(ErrorCode.UserNotFound, $"user '{user}' does not exist");
        if (!found.HasRootRole)
        {
            throw new ConclaveErrorException(ErrorCode.PermissionDenied, $"user '{user}' needs the root role for this request");
        }
    }

    /// <summary>Requires an existing user (auth enabled): for requests that touch no key, such as a lease grant.</summary>
    public void CheckAuthenticated(string? user)
    {
        if (Enabled)
        {
            Resolve(user);
        }
    }

    public void CheckRange(string? user, ByteString key, ByteString rangeEnd) => Check(user, key, rangeEnd, write: false, "read");

    public void CheckPut(string? user, ByteString key) => Check(user, key, ByteString.Empty, write: true, "write");

    public void CheckDelete(string? user, ByteString key, ByteString rangeEnd) => Check(user, key, rangeEnd, write: true, "write");

    /// <summary>
    /// A txn needs read permission on every compare and every operation's permission in both branches, nested txns
    /// included: it is checked for every branch it could take, not the one it took. A put that returns the previous
    /// value needs read as well; <paramref name="leaseKeys"/> gives the keys a put's lease already holds, which the
    /// user must be able to write (etcd: otherwise the user could revoke them through the lease).
    /// </summary>
    public void CheckTxn(string? user, TxnRequest txn, Func<long, IEnumerable<ByteString>>? leaseKeys = null)
    {
        if (!Enabled)
        {
            return;
        }

        foreach (var c in txn.Compare)
        {
            CheckRange(user, c.Key, c.RangeEnd);
        }

        CheckOps(user, txn.Success, leaseKeys);
        CheckOps(user, txn.Failure, leaseKeys);
    }

    /// <summary>A put: write on the key, read too for the previous value, write on the keys the lease holds.</summary>
    public void CheckPutRequest(string? user, PutRequest put, Func<long, IEnumerable<ByteString>>? leaseKeys = null)
    {
        if (!Enabled)
        {
            return;
        }

        CheckPut(user, put.Key);
        if (put.PrevKv)
        {
            CheckRange(user, put.Key, ByteString.Empty);
        }

        if (put.Lease != 0 && leaseKeys is not null)
        {
            foreach (var key in leaseKeys(put.Lease))
            {
                CheckPut(user, key);
            }
        }
    }

    /// <summary>A delete: write on the range, read too for the previous values.</summary>
    public void CheckDeleteRequest(string? user, DeleteRangeRequest delete)
    {
        if (!Enabled)
        {
            return;
        }

        CheckDelete(user, delete.Key, delete.RangeEnd);
        if (delete.PrevKv)
        {
            CheckRange(user, delete.Key, delete.RangeEnd);
        }
    }

    private void CheckOps(string? user, IEnumerable<RequestOp> ops, Func<long, IEnumerable<ByteString>>? leaseKeys)
    {
        foreach (var op in ops)
        {
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestRange:
                    CheckRange(user, op.RequestRange.Key, op.RequestRange.RangeEnd);
                    break;
                case RequestOp.RequestOneofCase.RequestPut:
                    CheckPutRequest(user, op.RequestPut, leaseKeys);
                    break;
                case RequestOp.RequestOneofCase.RequestDeleteRange:
                    CheckDeleteRequest(user, op.RequestDeleteRange);
                    break;
                case RequestOp.RequestOneofCase.RequestTxn:
                    CheckTxn(user, op.RequestTxn, leaseKeys);
                    break;
            }
        }
    }

    /// <summary>Whether <paramref name="user"/> may read every key of the range (false for no user or an unknown one).</summary>
    public bool MayRead(string? user, ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd)
    {
        if (!Enabled)
        {
            return true;
        }

        var found = FindUser(user);
        return found is not null && (found.HasRootRole || PermissionsOf(found).Read.Covers(key, rangeEnd));
    }

    private void Check(string? user, ByteString key, ByteString rangeEnd, bool write, string what)
    {
        if (!Enabled)
        {
            return;
        }

        var found = Resolve(user);
        if (found.HasRootRole)
        {
            return;
        }

        var (read, written) = PermissionsOf(found);
        if (!(write ? written : read).Covers(key.Span, rangeEnd.Span))
        {
            var range = rangeEnd.IsEmpty ? $"key '{key.ToStringUtf8()}'" : $"range ['{key.ToStringUtf8()}', '{rangeEnd.ToStringUtf8()}')";
            throw new ConclaveErrorException(ErrorCode.PermissionDenied, $"user '{user}' may not {what} {range}: no role of theirs grants it");
        }
    }

    private AuthUser Resolve(string? user)
    {
        if (string.IsNullOrEmpty(user))
        {
            throw new ConclaveErrorException(ErrorCode.UserEmpty, "auth is enabled and the request names no user (authenticate, or present a client certificate)");
        }

        return FindUser(user) ?? throw new ConclaveErrorException(ErrorCode.PermissionDenied, $"user '{user}' does not exist (any more)");
    }

    /// <summary>The user's read and write ranges, merged over its roles (computed once per state and user).</summary>
    public (KeyIntervals Read, KeyIntervals Write) PermissionsOf(AuthUser user) => permissions.GetOrAdd(user.Name, static (_, arg) =>
    {
        var (state, u) = arg;
        var granted = u.Roles.Select(r => state.Roles.GetValueOrDefault(r)).Where(static r => r is not null).SelectMany(static r => r!.Permissions).ToList();
        var read = granted.Where(static p => p.PermType is Permission.Types.Type.Read or Permission.Types.Type.Readwrite);
        var write = granted.Where(static p => p.PermType is Permission.Types.Type.Write or Permission.Types.Type.Readwrite);
        return (KeyIntervals.Of(read.Select(static p => (p.Key.ToByteArray(), p.RangeEnd.ToByteArray()))),
                KeyIntervals.Of(write.Select(static p => (p.Key.ToByteArray(), p.RangeEnd.ToByteArray()))));
    }, (this, user));
}
