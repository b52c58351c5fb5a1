/**
 * Profiles and identity resolution: a profile by id or by any identity, an account with its
 * hierarchy, people and opportunities, "why are these one profile?", a profile's decision
 * history, operators' splits and merges (run as the identityChange saga), and the namespaces,
 * blocked values and settings that drive resolution.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ENTITIES, RECORD_NAMESPACE, VALUE_KINDS, type Entity, type IdentityConfig } from '../../domain/identity/config';
import { normaliseIdentity } from '../../domain/identity/extract';
import { parseMergePolicy } from '../../domain/profiles/merge-policy';
import { loadIdentityConfig, replaceBlockedValues, updateIdentitySettings, upsertNamespace } from '../../db/repositories/identity-config';
import { accountOpportunitiesPage, accountPeoplePage, accountProfile, explainIdentities, hierarchyCycles, personProfile, profileHistory, profileIdOfIdentity } from '../../db/repositories/profiles';
import { identityChangesTouching } from '../../db/repositories/identity-changes';
import { createIdentityChange, getIdentityChange, type IdentityChangeKind } from '../../engine/identity/identity-changes';
import { blockListOf } from '../../engine/identity/resolve-records';
import { HttpError } from '../errors';
import { workflowUrl } from '../temporal-access';
import { startIdentityRebuild } from '../../control/identity';
import type { ApiDeps } from '../app';
import type { FastifyRequest } from 'fastify';

/** The decision log's actor: the caller's token principal (never a field of the request). */
const actorOf = (req: FastifyRequest) => `api:${req.principal?.principal ?? 'unknown'}`;

const entity = z.enum(ENTITIES as [Entity, ...Entity[]]);
const identityParam = z.string().min(3).max(1100).describe("An identity as namespace:value, e.g. email:ada@example.com, b2b_person:00Q5e00001AbC@00D5e000000TsRa.Salesforce");

const changeBody = z.strictObject({
  entity: entity.default('person'),
  a: identityParam,
  b: identityParam,
  reason: z.string().max(1000).default(''),
});
const unlinkBody = z.strictObject({
  entity: entity.default('person'),
  record: identityParam.describe('The record node, b2b_person:<sourceKey> or b2b_account:<sourceKey>'),
  identity: identityParam.describe('The identity it must no longer be joined with'),
  reason: z.string().max(1000).default(''),
});

const namespaceBody = z.strictObject({
  entity,
  label: z.string().min(1).max(200),
  kind: z.enum(VALUE_KINDS as [string, ...string[]]),
  priority: z.int().min(0).max(1000),
  unique: z.boolean(),
  links: z.boolean().default(true),
  fields: z.array(z.string().regex(/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/, 'a dot path into the XDM record')).min(1).max(20),
  description: z.string().max(1000).default(''),
});
const blockedBody = z.strictObject({
  namespace: z.string().nullable().default(null),
  match: z.enum(['value', 'email-local-part', 'domain']),
  value: z.string().min(1).max(1024),
  reason: z.string().min(1).max(500),
});
const settingsBody = z.strictObject({
  maxClusterSize: z.int().min(2).max(10_000),
  recordScope: z.strictObject({ person: z.enum(['instance-account', 'instance', 'none']), account: z.enum(['instance-account', 'instance', 'none']) }),
  leadToAccount: z.strictObject({ enabled: z.boolean(), threshold: z.number().min(0).max(1) }),
  mergePolicy: z.strictObject({ person: z.unknown(), account: z.unknown() }),
});

/** An identity as typed by a person, in the graph's canonical form (emails lowercased, phones E.164...). */
function canonicalIdentity(config: IdentityConfig, e: Entity, raw: string): string {
  const at = raw.indexOf(':');
  if (at <= 0) throw new HttpError(400, 'InvalidIdentity', `'${raw}' is not namespace:value (e.g. email:ada@example.com)`);
  const name = raw.slice(0, at);
  const value = raw.slice(at + 1);
  const ns = config.namespaces.find((n) => n.name === name && n.entity === e);
  if (!ns) {
    const known = config.namespaces.filter((n) => n.entity === e).map((n) => n.name);
    throw new HttpError(400, 'UnknownNamespace', `'${name}' is not a ${e} namespace; known: ${known.join(', ')}`);
  }
  if (ns.name === RECORD_NAMESPACE[e]) return `${name}:${value.trim()}`;
  const n = normaliseIdentity(ns, value, blockListOf(config));
  if (!n.ok) throw new HttpError(400, 'InvalidIdentity', `${name} '${value}' cannot identify anyone: ${n.reason}`);
  return `${name}:${n.value}`;
}

export function identityRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db } = deps;
  const startChange = async (req: { entity: Entity; kind: IdentityChangeKind; a: string; b: string; actor: string; reason: string }) => {
    const config = await loadIdentityConfig(db);
    const a = canonicalIdentity(config, req.entity, req.a);
    const b = canonicalIdentity(config, req.entity, req.b);
    const change = await createIdentityChange(db, { ...req, a, b });
    const workflowId = `identity-change/${change.id}`;
    const client = await deps.temporal.client();
    await client.workflow.start('identityChange', { taskQueue: deps.temporal.taskQueue, workflowId, args: [{ changeId: change.id }] });
    return { changeId: change.id, workflowId, workflowUrl: workflowUrl(deps.temporal, workflowId), status: `/v1/identity/changes/${change.id}` };
  };

  return async (app) => {
    app.get(
      '/v1/profiles/:entity/by-identity',
      {
        schema: {
          tags: ['profiles'],
          summary: 'The profile holding an identity (any namespace: a source key, an email, a DUNS number...)',
          params: z.object({ entity }),
          querystring: z.object({ identity: identityParam }),
        },
      },
      async (req) => {
        const config = await loadIdentityConfig(db);
        const identity = canonicalIdentity(config, req.params.entity, req.query.identity);
        const id = await profileIdOfIdentity(db, req.params.entity, identity);
        if (!id) throw new HttpError(404, 'NotFound', `no ${req.params.entity} profile holds ${identity}`);
        const p = req.params.entity === 'person' ? await personProfile(db, id) : await accountProfile(db, id);
        if (!p) throw new HttpError(409, 'ProfileChanging', `${identity} belongs to profile ${id}, which an identity change is rebuilding; retry in a moment`);
        return p;
      },
    );

    app.get(
      '/v1/profiles/:entity/:profileId',
      {
        schema: {
          tags: ['profiles'],
          summary: 'A person profile (attributes with provenance, records, identities, account links, job changes) or an account profile (also hierarchy, people, opportunities, roll-ups)',
          params: z.object({ entity, profileId: z.uuid() }),
        },
      },
      async (req) => {
        const p = req.params.entity === 'person' ? await personProfile(db, req.params.profileId) : await accountProfile(db, req.params.profileId);
        if (!p) throw new HttpError(404, 'NotFound', `no ${req.params.entity} profile ${req.params.profileId} (it may have been merged: look it up by identity)`);
        return p;
      },
    );

    // An account's opportunities and people, whole, a page at a time (the profile carries samples).
    const pageQuery = z.object({ after: z.string().min(1).max(2000).optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) });
    app.get(
      '/v1/profiles/account/:profileId/opportunities',
      { schema: { tags: ['profiles'], summary: "An account's opportunities, a page at a time (after: the last recordKey of the previous page)", params: z.object({ profileId: z.uuid() }), querystring: pageQuery } },
      async (req) => {
        const page = await accountOpportunitiesPage(db, req.params.profileId, req.query);
        if (!page) throw new HttpError(404, 'NotFound', `no account profile ${req.params.profileId}`);
        return { opportunities: page, next: page.length === req.query.limit ? (page.at(-1)!.recordKey as string) : null };
      },
    );
    app.get(
      '/v1/profiles/account/:profileId/people',
      { schema: { tags: ['profiles'], summary: "An account's people and how each is linked, a page at a time (after: the previous page's next)", params: z.object({ profileId: z.uuid() }), querystring: pageQuery } },
      async (req) => {
        const page = await accountPeoplePage(db, req.params.profileId, req.query);
        if (!page) throw new HttpError(404, 'NotFound', `no account profile ${req.params.profileId}`);
        return page;
      },
    );

    app.get(
      '/v1/profiles/:entity/:profileId/history',
      {
        schema: {
          tags: ['profiles'],
          summary: "The decision log of a profile: its records' observations, links accepted or refused (with the rule), unlinks and do-not-links",
          params: z.object({ entity, profileId: z.uuid() }),
          querystring: z.object({ after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0), limit: z.coerce.number().int().min(1).max(1000).default(200) }),
        },
      },
      async (req) => {
        const decisions = await profileHistory(db, req.params.profileId, { afterId: req.query.after, limit: req.query.limit });
        const changes = await identityChangesTouching(db, req.params.profileId);
        return { profileId: req.params.profileId, decisions, next: decisions.length === req.query.limit ? decisions.at(-1)!.id : null, operatorChanges: changes };
      },
    );

    app.get(
      '/v1/identity/explain',
      {
        schema: {
          tags: ['identity'],
          summary: 'Why are these one profile? The path of links (each with its record, field and time) that joins two identities, or the rules and do-not-links that keep them apart',
          querystring: z.object({ entity: entity.default('person'), a: identityParam, b: identityParam }),
        },
      },
      async (req) => {
        const config = await loadIdentityConfig(db);
        const a = canonicalIdentity(config, req.query.entity, req.query.a);
        const b = canonicalIdentity(config, req.query.entity, req.query.b);
        const out = await explainIdentities(db, req.query.entity, a, b);
        if (!out.known) throw new HttpError(404, 'NotFound', `not in the ${req.query.entity} graph: ${out.missing.join(', ')}`);
        return { a, b, ...out };
      },
    );

    app.post(
      '/v1/identity/do-not-link',
      {
        schema: {
          tags: ['identity'],
          summary: 'Split: these two identities must never be in one profile. Runs the identityChange saga (graph → profiles → segments → destinations); answers 202 with its workflow',
          body: changeBody,
        },
      },
      async (req, reply) => reply.code(202).send(await startChange({ ...req.body, actor: actorOf(req), kind: 'do-not-link' })),
    );

    app.post(
      '/v1/identity/unlink',
      {
        schema: {
          tags: ['identity'],
          summary: 'Unlink a record from an identity it carries (its profile splits if that link held it together); kept as a do-not-link so the next sync does not undo it',
          body: unlinkBody,
        },
      },
      async (req, reply) => {
        if (!req.body.record.startsWith(`${RECORD_NAMESPACE[req.body.entity]}:`)) {
          throw new HttpError(400, 'InvalidRequest', `record must be a ${req.body.entity} record node, ${RECORD_NAMESPACE[req.body.entity]}:<sourceKey>; to keep two other identities apart use POST /v1/identity/do-not-link`);
        }
        return reply.code(202).send(await startChange({ entity: req.body.entity, a: req.body.record, b: req.body.identity, actor: actorOf(req), reason: req.body.reason, kind: 'do-not-link' }));
      },
    );

    app.post(
      '/v1/identity/allow-link',
      {
        schema: { tags: ['identity'], summary: 'Merge back: remove a do-not-link; runs the identityChange saga', body: changeBody },
      },
      async (req, reply) => reply.code(202).send(await startChange({ ...req.body, actor: actorOf(req), kind: 'allow-link' })),
    );

    app.get(
      '/v1/identity/changes/:changeId',
      { schema: { tags: ['identity'], summary: 'An identity change and its saga steps', params: z.object({ changeId: z.uuid() }) } },
      async (req) => {
        const c = await getIdentityChange(db, req.params.changeId);
        if (!c) throw new HttpError(404, 'NotFound', `no identity change ${req.params.changeId}`);
        const workflowId = `identity-change/${c.id}`;
        return {
          changeId: c.id, entity: c.entity, kind: c.kind, a: c.a, b: c.b, actor: c.actor, reason: c.reason, status: c.status, steps: c.steps,
          profilesTouched: c.touched ?? [], profilesEnded: c.gone ?? {}, error: c.error, createdAt: c.created_at, updatedAt: c.updated_at,
          workflowId, workflowUrl: workflowUrl(deps.temporal, workflowId),
        };
      },
    );

    app.get('/v1/identity/config', { schema: { tags: ['identity'], summary: 'Namespaces, blocked values and settings in force' } }, async () => loadIdentityConfig(db));

    app.put(
      '/v1/identity/namespaces/:name',
      {
        schema: {
          tags: ['identity'],
          summary: 'Add or change a namespace (fields, priority, uniqueness). Applies to records resolved from now on; POST /v1/identity/rebuild applies it to everything',
          params: z.object({ name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'lowercase letters, digits and _') }),
          body: namespaceBody,
        },
      },
      async (req) => {
        const config = await loadIdentityConfig(db);
        const existing = config.namespaces.find((n) => n.name === req.params.name);
        if (existing && existing.entity !== req.body.entity) throw new HttpError(409, 'Conflict', `namespace ${req.params.name} belongs to ${existing.entity}; its entity cannot change`);
        const isRecordNs = Object.values(RECORD_NAMESPACE).includes(req.params.name);
        if (isRecordNs && (req.body.kind !== 'record-key' || !req.body.links)) throw new HttpError(400, 'InvalidRequest', `${req.params.name} holds the record nodes: its kind stays record-key and it always links`);
        await upsertNamespace(db, { name: req.params.name, ...req.body, kind: req.body.kind as IdentityConfig['namespaces'][number]['kind'] });
        return (await loadIdentityConfig(db)).namespaces.find((n) => n.name === req.params.name);
      },
    );

    app.post(
      '/v1/identity/blocked-values',
      { schema: { tags: ['identity'], summary: 'Block a value (it will never link anything)', body: blockedBody } },
      async (req, reply) => {
        await replaceBlockedValues(db, [req.body], []);
        return reply.code(201).send(req.body);
      },
    );

    app.delete(
      '/v1/identity/blocked-values',
      { schema: { tags: ['identity'], summary: 'Unblock a value', body: blockedBody.omit({ reason: true }) } },
      async (req) => {
        await replaceBlockedValues(db, [], [{ ...req.body, reason: '' }]);
        return { removed: req.body };
      },
    );

    app.put(
      '/v1/identity/settings',
      { schema: { tags: ['identity'], summary: 'Cluster cap, record scopes, lead-to-account matching, merge policies', body: settingsBody } },
      async (req) => {
        let mergePolicy;
        try {
          mergePolicy = { person: parseMergePolicy(req.body.mergePolicy.person), account: parseMergePolicy(req.body.mergePolicy.account) };
        } catch (e) {
          throw new HttpError(400, 'InvalidRequest', `mergePolicy: ${(e as Error).message}`);
        }
        await updateIdentitySettings(db, { ...req.body, mergePolicy });
        return (await loadIdentityConfig(db)).settings;
      },
    );

    app.post(
      '/v1/identity/rebuild',
      {
        schema: {
          tags: ['identity'],
          summary: 'Recompute the whole graph and every profile with the configuration in force (a workflow)',
          description:
            'One rebuild at a time: 409 names the running one. Ingestion goes on meanwhile (records are stored and queued); the ' +
            'resolvers wait for the rebuild and then work off what was queued.',
        },
      },
      async (_req, reply) => {
        const started = await startIdentityRebuild(await deps.temporal.client(), deps.temporal.taskQueue);
        const body = { workflowId: started.workflowId, runId: started.runId, workflowUrl: workflowUrl(deps.temporal, started.workflowId) };
        if (!started.started) throw new HttpError(409, 'RebuildRunning', `an identity rebuild is already running (${started.workflowId}, run ${started.runId}); wait for it to finish`, body);
        return reply.code(202).send(body);
      },
    );

    app.get(
      '/v1/accounts/hierarchy-cycles',
      { schema: { tags: ['profiles'], summary: 'Account hierarchies whose parent links form a cycle (reported, never followed)' } },
      async () => ({ cycles: await hierarchyCycles(db) }),
    );
  };
}
