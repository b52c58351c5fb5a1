/** Unit tests of the Marketo connector's pure parts: CSV parsing, resumable SHA-256, dates, mappings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { parseCsvChunk, type CsvRow } from '../../connectors/sources/marketo/csv';
import { Sha256 } from '../../connectors/sources/marketo/sha256';
import { msUntilCentralMidnight, toMarketoFilterDate, toXdmDate, toXdmInstant } from '../../connectors/sources/marketo/dates';
import {
  makeActivityMapper, makeLeadMapper, makeProgramMemberMapper, mapCompany, mapDeletedLead, mapListMember, mapNamedAccount,
  mapOpportunity, mapOpportunityRole, mapProgram, mapStaticList, type MapResult, type MappingContext,
} from '../../connectors/sources/marketo/mapping';
import { domainForms } from '../../connectors/sources/marketo/keyed';
import { XDM_CLASSES } from '../../domain/xdm/registry';

const ctx: MappingContext = { munchkinId: '123-ABC-456', crmType: 'Salesforce', crmInstanceId: '00D5e0000000TessEAA' };

function valid(r: MapResult): Record<string, unknown> {
  assert.ok(r.record, `expected a record, got ${JSON.stringify(r.unmappable)}`);
  const parsed = XDM_CLASSES[r.record.xdmClass].schema.safeParse(r.record.record);
  assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
  return r.record.record;
}

test('CSV: quotes, doubled quotes, embedded newlines and commas, the null literal', () => {
  const text = 'id,name,attributes\n1,null,"{""a"":""x,y""}"\n2,"two\nlines",\n3,"null",plain\r\n';
  const { rows, rest } = parseCsvChunk(Buffer.from(text), false);
  assert.equal(rest.length, 0);
  assert.deepEqual(rows, [
    ['id', 'name', 'attributes'],
    ['1', null, '{"a":"x,y"}'],
    ['2', 'two\nlines', ''],
    ['3', 'null', 'plain'],
  ]);
});

test('CSV: any split point (also inside a UTF-8 character or a quoted field) gives the same rows', () => {
  const text = 'id,city,note\n1,Zürich,"a ""quoted"", value"\n2,東京,"multi\nline é"\n3,null,x\n4,Köln,"end"';
  const bytes = Buffer.from(text, 'utf8');
  const whole = parseCsvChunk(bytes, true).rows;
  assert.equal(whole.length, 5);
  for (let cut = 1; cut < bytes.length; cut++) {
    const first = parseCsvChunk(bytes.subarray(0, cut), false);
    const second = parseCsvChunk(Buffer.concat([first.rest, bytes.subarray(cut)]), true);
    assert.equal(second.rest.length, 0);
    assert.deepEqual([...first.rows, ...second.rows] as CsvRow[], whole, `split at byte ${cut}`);
  }
});

test('SHA-256 state survives JSON round trips and matches node:crypto', () => {
  for (const n of [0, 1, 55, 56, 64, 65, 127, 1000, 65_537]) {
    const data = randomBytes(n);
    let h = new Sha256();
    const cuts = [Math.floor(n / 3), Math.floor((2 * n) / 3), n];
    let at = 0;
    for (const c of cuts) {
      h.update(data.subarray(at, c));
      at = c;
      h = Sha256.restore(JSON.parse(JSON.stringify(h.save())));
    }
    assert.equal(h.digestHex(), createHash('sha256').update(data).digest('hex'), `length ${n}`);
  }
});

test('dates: Marketo and asset API formats become XDM instants; garbage is refused', () => {
  assert.equal(toXdmInstant('2024-05-01T12:00:00Z'), '2024-05-01T12:00:00Z');
  assert.equal(toXdmInstant('2017-07-27T01:38:33Z+0000'), '2017-07-27T01:38:33Z');
  assert.equal(toXdmInstant('2024-05-01T12:00:00+0200'), '2024-05-01T12:00:00+02:00');
  assert.equal(toXdmInstant('2024-05-01T12:00:00'), '2024-05-01T12:00:00Z');
  assert.equal(toXdmInstant('31/02/2026 25:61'), null);
  assert.equal(toXdmInstant('2024-13-45T12:00:00Z'), null);
  assert.equal(toXdmDate('2026-03-31'), '2026-03-31');
  assert.equal(toMarketoFilterDate(Date.parse('2024-05-01T12:00:00.987Z')), '2024-05-01T12:00:00Z');
  const wait = msUntilCentralMidnight(Date.parse('2026-11-02T05:30:00Z')); // 23:30 CST
  assert.equal(wait, 30 * 60_000);
});

const LEAD_HEADER = ['id', 'email', 'firstName', 'lastName', 'title', 'department', 'phone', 'company', 'website', 'city', 'country', 'leadSource', 'leadStatus', 'leadScore', 'unsubscribed', 'unsubscribedReason', 'externalCompanyId', 'sfdcType', 'sfdcContactId', 'sfdcLeadId', 'sfdcAccountId', 'createdAt', 'updatedAt'];
const leadRow = (over: Partial<Record<string, string | null>> = {}): CsvRow => {
  const base: Record<string, string | null> = {
    id: '1001', email: 'ada.adams@northwind.com', firstName: 'Ada', lastName: 'Adams', title: 'CTO', department: 'Engineering', phone: '+14155550100',
    company: 'Northwind', website: 'https://www.northwind.com', city: 'Berlin', country: 'DE', leadSource: 'Web', leadStatus: 'Open', leadScore: '42',
    unsubscribed: 'true', unsubscribedReason: 'x'.repeat(150), externalCompanyId: '0015e0000000001AAA', sfdcType: 'Contact', sfdcContactId: '0035e0000000001AAA',
    sfdcLeadId: null, sfdcAccountId: '0015e0000000001AAA', createdAt: '2026-07-01T10:00:00Z', updatedAt: '2026-08-01T10:00:00Z',
  };
  return LEAD_HEADER.map((h) => (h in over ? over[h]! : base[h]!));
};

test('lead → person: keys, CRM externalKey, work email, consents, audit dates', () => {
  const map = makeLeadMapper(LEAD_HEADER, ctx);
  const rec = valid(map(leadRow())) as any;
  assert.equal(rec.b2b.personKey.sourceKey, '1001@123-ABC-456.Marketo');
  assert.equal(rec.extSourceSystemAudit.externalKey.sourceKey, '0035e0000000001AAA@00D5e0000000TessEAA.Salesforce');
  assert.equal(rec.b2b.accountKey.sourceKey, '0015e0000000001AAA@00D5e0000000TessEAA.Salesforce');
  assert.equal(rec.b2b.accountID, '0015e0000000001AAA');
  assert.equal(rec.b2b.personType, 'Contact');
  assert.equal(rec.b2b.personScore, 42);
  assert.equal(rec.workEmail.address, 'ada.adams@northwind.com');
  assert.equal(rec.consents.marketing.email.val, 'n');
  assert.equal(rec.consents.marketing.email.reason.length, 100);
  assert.equal(rec.extSourceSystemAudit.lastUpdatedDate, '2026-08-01T10:00:00Z');
  assert.equal(rec.isDeleted, false);
  assert.equal(rec.workAddress.countryCode, 'DE');

  const lead = valid(map(leadRow({ sfdcType: 'Lead', sfdcContactId: null, sfdcLeadId: '00Q5e0000000009AAA', sfdcAccountId: null, unsubscribed: 'false' }))) as any;
  assert.equal(lead.extSourceSystemAudit.externalKey.sourceKey, '00Q5e0000000009AAA@00D5e0000000TessEAA.Salesforce');
  assert.equal(lead.b2b.personType, 'Lead');
  assert.equal(lead.consents, undefined);

  const noCrm = valid(makeLeadMapper(LEAD_HEADER, { munchkinId: '123-ABC-456', crmType: 'Salesforce' })(leadRow())) as any;
  assert.equal(noCrm.extSourceSystemAudit.externalKey, undefined);
  assert.equal(noCrm.b2b.accountKey, undefined);
});

test('lead → unmappable with key and reason: broken email, bad date, wrong cell count, bad id', () => {
  const map = makeLeadMapper(LEAD_HEADER, ctx);
  const bad = map(leadRow({ email: 'broken-email.example.com' }));
  assert.equal(bad.unmappable?.sourceKey, '1001@123-ABC-456.Marketo');
  assert.match(bad.unmappable!.reason, /email 'broken-email.example.com'/);
  assert.equal((bad.unmappable!.raw as Record<string, unknown>).email, 'broken-email.example.com');
  const date = map(leadRow({ createdAt: '31/02/2026 25:61' }));
  assert.match(date.unmappable!.reason, /createdAt '31\/02\/2026 25:61' is not a date-time/);
  const short = map(leadRow().slice(0, 5));
  assert.match(short.unmappable!.reason, /5 cells, the header 23/);
  assert.equal(map(leadRow({ id: 'abc' })).unmappable?.sourceKey, null);
});

const ACT_HEADER = ['marketoGUID', 'leadId', 'activityDate', 'activityTypeId', 'campaignId', 'primaryAttributeValueId', 'primaryAttributeValue', 'attributes'];

test('activity → experience event: stable _id, eventType by type, JSON attributes', () => {
  const map = makeActivityMapper(ACT_HEADER, ctx);
  const visit = valid(map(['555', '1001', '2026-09-01T08:00:00Z', '1', '5001', '1200', 'https://www.example.com/pricing', JSON.stringify({ 'Webpage URL': '/pricing', 'Client IP Address': '10.0.0.1', 'User Agent': 'UA', 'Referrer URL': 'https://www.google.com/' })])) as any;
  assert.equal(visit._id, '555@123-ABC-456.Marketo');
  assert.equal(visit.eventType, 'web.webpagedetails.pageViews');
  assert.equal(visit.personKey.sourceKey, '1001@123-ABC-456.Marketo');
  assert.equal(visit.web.webPageDetails.URL, '/pricing');
  assert.equal(visit.web.webReferrer.URL, 'https://www.google.com/');
  assert.equal(visit.environment.ipV4, '10.0.0.1');
  assert.equal(visit.timestamp, '2026-09-01T08:00:00Z');
  const open = valid(map(['556', '1001', '2026-09-01T08:00:00Z', '10', null, '77', 'Newsletter 3', '{"Campaign Run ID":1}'])) as any;
  assert.equal(open.eventType, 'directMarketing.emailOpened');
  assert.equal(open.directMarketing.mailingName, 'Newsletter 3');
  const add = valid(map(['557', '1001', '2026-09-01T08:00:00Z', '24', null, '9001', 'My List', '{}'])) as any;
  assert.equal(add.listOperations.listKey.sourceKey, '9001@123-ABC-456.Marketo');
  const other = valid(map(['558', '1001', '2026-09-01T08:00:00Z', '46', null, null, 'x', '{"Reason":"y"}'])) as any;
  assert.equal(other.eventType, 'marketo.activity.46');
  assert.deepEqual(other._marketo.attributes, { Reason: 'y' });
  const broken = map(['559', '1001', '2026-09-01T08:00:00Z', '1', null, null, 'x', '{not json']);
  assert.equal(broken.unmappable?.sourceKey, '559@123-ABC-456.Marketo');
  assert.match(broken.unmappable!.reason, /attributes/);
  assert.match(map(['560', '1001', 'yesterday', '1', null, null, 'x', '{}']).unmappable!.reason, /activityDate 'yesterday'/);
});

test('program member → campaign member', () => {
  const header = ['programId', 'leadId', 'createdAt', 'updatedAt', 'membershipDate', 'statusName', 'reachedSuccess', 'reachedSuccessDate', 'isExhausted', 'nurtureCadence', 'acquiredBy'];
  const rec = valid(makeProgramMemberMapper(header, ctx)(['2001', '1001', '2026-07-01T10:00:00Z', '2026-07-02T10:00:00Z', '2026-07-01T10:00:00Z', 'Attended', 'true', '2026-07-02T10:00:00Z', 'false', null, 'true'])) as any;
  assert.equal(rec.campaignMemberKey.sourceKey, '2001_1001@123-ABC-456.Marketo');
  assert.equal(rec.campaignKey.sourceKey, '2001@123-ABC-456.Marketo');
  assert.equal(rec.personKey.sourceKey, '1001@123-ABC-456.Marketo');
  assert.equal(rec.memberStatus, 'Attended');
  assert.equal(rec.hasReachedSuccess, true);
  assert.equal(rec.acquiredByCampaignID, '2001');
});

test('REST objects: company, named account, opportunity, role, program, list, list member, deleted lead', () => {
  const company = valid(mapCompany(ctx, { id: 77, externalCompanyId: '0015e0000000001AAA', company: 'Northwind', website: 'https://www.northwind.com', numberOfEmployees: 120, annualRevenue: 1000000, billingCountry: 'DE', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-02-01T00:00:00Z' })) as any;
  assert.equal(company.accountKey.sourceKey, '77.mkto_org@123-ABC-456.Marketo');
  assert.equal(company.extSourceSystemAudit.externalKey.sourceKey, '0015e0000000001AAA@00D5e0000000TessEAA.Salesforce');
  assert.equal(company.accountOrganization.domain, 'northwind.com');
  const named = valid(mapNamedAccount(ctx, { marketoGUID: 'abc-1', name: 'Northwind', domainName: 'northwind.com', crmGuid: '0015e0000000001AAA', parentAccountId: 'abc-0', createdAt: '2026-01-01T00:00:00Z' })) as any;
  assert.equal(named.accountKey.sourceKey, 'abc-1.mkto_acct@123-ABC-456.Marketo');
  assert.equal(named.accountParentKey.sourceKey, 'abc-0.mkto_acct@123-ABC-456.Marketo');
  assert.equal(named.accountOrganization.domain, 'northwind.com');
  const typedWithWww = valid(mapNamedAccount(ctx, { marketoGUID: 'abc-2', name: 'Northwind', domainName: 'WWW.Northwind.com' })) as any;
  assert.equal(typedWithWww.accountOrganization.domain, 'northwind.com', 'a named account domain typed with www. is stored bare, like a company\'s');
  assert.deepEqual(domainForms('northwind.com'), ['northwind.com', 'www.northwind.com']);
  assert.deepEqual(domainForms('www.northwind.com'), ['northwind.com', 'www.northwind.com']);
  const opp = valid(mapOpportunity(ctx, { marketoGUID: 'opp-1', externalOpportunityId: '0065e0000000001AAA', externalCompanyId: '0015e0000000001AAA', name: 'Deal', stage: 'Closed Won', amount: 5000, probability: 100, closeDate: '2026-05-01', isClosed: true, isWon: true, fiscalYear: 2026, fiscalQuarter: 'Q2' })) as any;
  assert.equal(opp.opportunityKey.sourceKey, 'opp-1@123-ABC-456.Marketo');
  assert.equal(opp.accountKey.sourceKey, '0015e0000000001AAA@00D5e0000000TessEAA.Salesforce');
  assert.deepEqual(opp.opportunityAmount, { amount: 5000 });
  const role = valid(mapOpportunityRole(ctx, { marketoGUID: 'role-1', externalOpportunityId: '0065e0000000001AAA', leadId: 1001, role: 'Decision Maker', isPrimary: true })) as any;
  assert.equal(role.opportunityKey.sourceKey, '0065e0000000001AAA@00D5e0000000TessEAA.Salesforce');
  assert.equal(role.personKey.sourceKey, '1001@123-ABC-456.Marketo');
  const noCrm = mapOpportunityRole({ munchkinId: '123-ABC-456', crmType: 'Salesforce' }, { marketoGUID: 'role-1', externalOpportunityId: 'x', leadId: 1 });
  assert.match(noCrm.unmappable!.reason, /crmInstanceId/);
  const program = valid(mapProgram(ctx, { id: 2001, name: 'Webinar', type: 'Webinar', channel: 'Webinar', folder: { type: 'Program', value: 2000 }, costs: [{ cost: 100 }, { cost: 50 }], sfdcId: '7015e0000000001AAA', createdAt: '2017-07-27T01:38:33Z+0000', updatedAt: '2017-07-28T01:38:33Z+0000' })) as any;
  assert.equal(program.extSourceSystemAudit.createdDate, '2017-07-27T01:38:33Z');
  assert.equal(program.parentCampaignKey.sourceKey, '2000@123-ABC-456.Marketo');
  assert.deepEqual(program.actualCost, { amount: 150 });
  const badProgram = mapProgram(ctx, { id: 2002, createdAt: 'not a date' });
  assert.equal(badProgram.unmappable?.sourceKey, '2002@123-ABC-456.Marketo');
  const list = valid(mapStaticList(ctx, { id: 9001, name: 'Nurture', description: 'Static list', createdAt: '2026-01-01T00:00:00Z' })) as any;
  assert.equal(list.marketingListKey.sourceKey, '9001@123-ABC-456.Marketo');
  const member = valid(mapListMember(ctx, '9001', { id: 1001 })) as any;
  assert.equal(member.marketingListMemberKey.sourceKey, '9001_1001@123-ABC-456.Marketo');
  const deleted = valid(mapDeletedLead(ctx, { leadId: 1001, activityDate: '2026-11-01T00:00:00Z' })) as any;
  assert.equal(deleted.isDeleted, true);
  assert.equal(deleted.b2b.personKey.sourceKey, '1001@123-ABC-456.Marketo');
});
