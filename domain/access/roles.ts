/**
 * Who may do what through the API: five roles, each token has one. `admin` may do everything;
 * the others are scoped to a job. The per-route table is api/access.ts.
 */
export const ROLES = ['admin', 'operator', 'marketer', 'auditor', 'ingest'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  admin: 'everything, including tokens, identity configuration and source definitions',
  operator: 'runs Tessera: syncs, backfills, files, quarantine, resolvers, rebuilds, splits and merges; reads records and profiles',
  marketer: 'reads unified profiles, accounts and their explanations',
  auditor: 'reads the audit log and the operational state (sources, resolvers, configuration), never personal data',
  ingest: 'writes records through the streaming API, optionally only for named source instances',
};

/** A token's principal: a name for a person or a system, kept in the audit log. */
export const PRINCIPAL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** A source instance as an ingest token names it: `sourceType/instanceId` (as in a record's sourceKey). */
export const INSTANCE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
