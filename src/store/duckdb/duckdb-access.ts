import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { isRole, type Role } from '../../access/access-policy.ts';
import { createSerialQueue } from '../../serial-queue.ts';
import type { AccessStore, AuditRecord, SessionRecord, TokenRecord, UserRecord } from '../access-store.ts';
import { appendNullableVarchar, appendRows, timestampValue } from './append-rows.ts';

/** Users, tokens, sessions and the audit log, on a connection of their own. */
export async function createDuckdbAccessStore(connection: DuckDBConnection): Promise<AccessStore> {
  const serial = createSerialQueue();

  async function rows(sql: string, values: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>[]> {
    return (await connection.runAndReadAll(sql, values)).getRowObjects();
  }
  const [last] = await rows('SELECT coalesce(max(seq), 0)::DOUBLE AS seq FROM audit_log');
  let nextAuditSeq = Number(last?.seq ?? 0) + 1;

  const ms = (column: string): string => `epoch_ms(${column})::DOUBLE AS ${column}`;
  const orNull = (value: DuckDBValue | undefined): number | null => (value == null ? null : Number(value));
  const time = (value: number | null): DuckDBValue => (value === null ? null : timestampValue(value));

  return {
    listUsers: () =>
      serial(async () => {
        const found = await rows(
          `SELECT id, email, password_hash, role, ${ms('created_at')}, ${ms('disabled_at')},
                  failed_logins, ${ms('locked_until')}
           FROM users ORDER BY created_at, id`,
        );
        return found.map((row): UserRecord => ({
          id: String(row.id),
          email: String(row.email),
          passwordHash: String(row.password_hash),
          role: roleOf(row.role),
          createdAt: Number(row.created_at),
          disabledAt: orNull(row.disabled_at),
          failedLogins: Number(row.failed_logins),
          lockedUntil: orNull(row.locked_until),
        }));
      }),

    saveUser: (user) =>
      serial(async () => {
        await connection.run(
          `INSERT OR REPLACE INTO users
             (id, email, password_hash, role, created_at, disabled_at, failed_logins, locked_until)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            user.id,
            user.email,
            user.passwordHash,
            user.role,
            timestampValue(user.createdAt),
            time(user.disabledAt),
            user.failedLogins,
            time(user.lockedUntil),
          ],
        );
      }),

    deleteUser: (id) =>
      serial(async () => {
        await connection.run('DELETE FROM sessions WHERE user_id = ?', [id]);
        await connection.run('DELETE FROM users WHERE id = ?', [id]);
      }),

    listTokens: () =>
      serial(async () => {
        const found = await rows(
          `SELECT id, name, role, token_hash, ${ms('created_at')}, created_by, ${ms('last_used_at')},
                  ${ms('revoked_at')}
           FROM api_tokens ORDER BY created_at, id`,
        );
        return found.map((row): TokenRecord => ({
          id: String(row.id),
          name: String(row.name),
          role: roleOf(row.role),
          tokenHash: String(row.token_hash),
          createdAt: Number(row.created_at),
          createdBy: String(row.created_by),
          lastUsedAt: orNull(row.last_used_at),
          revokedAt: orNull(row.revoked_at),
        }));
      }),

    saveToken: (token) =>
      serial(async () => {
        await connection.run(
          `INSERT OR REPLACE INTO api_tokens
             (id, name, role, token_hash, created_at, created_by, last_used_at, revoked_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            token.id,
            token.name,
            token.role,
            token.tokenHash,
            timestampValue(token.createdAt),
            token.createdBy,
            time(token.lastUsedAt),
            time(token.revokedAt),
          ],
        );
      }),

    listSessions: (now) =>
      serial(async () => {
        await connection.run('DELETE FROM sessions WHERE expires_at <= ?', [timestampValue(now)]);
        const found = await rows(
          `SELECT id_hash, user_id, csrf_token, ${ms('created_at')}, ${ms('expires_at')} FROM sessions`,
        );
        return found.map((row): SessionRecord => ({
          idHash: String(row.id_hash),
          userId: String(row.user_id),
          csrfToken: String(row.csrf_token),
          createdAt: Number(row.created_at),
          expiresAt: Number(row.expires_at),
        }));
      }),

    saveSession: (session) =>
      serial(async () => {
        await connection.run(
          'INSERT OR REPLACE INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
          [
            session.idHash,
            session.userId,
            session.csrfToken,
            timestampValue(session.createdAt),
            timestampValue(session.expiresAt),
          ],
        );
      }),

    deleteSessions: (idHashes) =>
      serial(async () => {
        if (idHashes.length === 0) return;
        await connection.run('DELETE FROM sessions WHERE id_hash IN (SELECT unnest(?::VARCHAR[]))', [
          listValue(idHashes),
        ]);
      }),

    appendAudit: (entries) =>
      serial(async () => {
        if (entries.length === 0) return;
        const first = nextAuditSeq;
        try {
          await appendRows(connection, 'audit_log', (appender) => {
            for (const entry of entries) {
              appender.appendBigInt(BigInt(nextAuditSeq++));
              appender.appendTimestampTZ(timestampValue(entry.at));
              appender.appendVarchar(entry.actorType);
              appendNullableVarchar(appender, entry.actorId);
              appendNullableVarchar(appender, entry.actorName);
              appendNullableVarchar(appender, entry.role);
              appender.appendVarchar(entry.action);
              appendNullableVarchar(appender, entry.targetType);
              appendNullableVarchar(appender, entry.targetId);
              appendNullableVarchar(appender, entry.ip);
              appendNullableVarchar(appender, entry.detail);
              appender.endRow();
            }
          });
        } catch (error) {
          nextAuditSeq = first;
          throw error;
        }
      }),

    listAudit: (query) =>
      serial(async () => {
        const where: string[] = [];
        const values: DuckDBValue[] = [];
        const filter = (sql: string, value: DuckDBValue): void => {
          where.push(sql);
          values.push(value);
        };
        if (query.action !== undefined) filter('action = ?', query.action);
        if (query.actorId !== undefined) filter('actor_id = ?', query.actorId);
        if (query.targetType !== undefined) filter('target_type = ?', query.targetType);
        if (query.targetId !== undefined) filter('target_id = ?', query.targetId);
        if (query.from !== undefined) filter('logged_at >= ?', timestampValue(query.from));
        if (query.to !== undefined) filter('logged_at < ?', timestampValue(query.to));
        if (query.beforeSeq !== undefined) filter('seq < ?', query.beforeSeq);
        const found = await rows(
          `SELECT seq::DOUBLE AS seq, epoch_ms(logged_at)::DOUBLE AS at, actor_type, actor_id, actor_name, role, action,
                  target_type, target_id, ip, detail
           FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY seq DESC LIMIT ${Math.trunc(query.limit)}`,
          values,
        );
        return found.map((row): AuditRecord => ({
          seq: Number(row.seq),
          at: Number(row.at),
          actorType: String(row.actor_type) as AuditRecord['actorType'],
          actorId: stringOrNull(row.actor_id),
          actorName: stringOrNull(row.actor_name),
          role: row.role == null ? null : roleOf(row.role),
          action: String(row.action),
          targetType: stringOrNull(row.target_type),
          targetId: stringOrNull(row.target_id),
          ip: stringOrNull(row.ip),
          detail: stringOrNull(row.detail),
        }));
      }),
  };
}

function roleOf(value: DuckDBValue | undefined): Role {
  const role = String(value);
  if (!isRole(role)) throw new Error(`Unknown role "${role}" in the store.`);
  return role;
}

function stringOrNull(value: DuckDBValue | undefined): string | null {
  return value == null ? null : String(value);
}

function listValue(values: readonly string[]): DuckDBValue {
  return `[${values.map((value) => `'${value.replaceAll("'", "''")}'`).join(', ')}]`;
}
