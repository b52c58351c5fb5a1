/** Pure Salesforce mapping and CSV parsing: no HTTP. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CsvError, parseCsv } from '../../connectors/sources/salesforce/csv';
import { normaliseDate, normaliseDateTime, SalesforceMapper } from '../../connectors/sources/salesforce/mapping';
import { validateRecord } from '../../domain/ingestion/validate-record';
import { XDM_CLASSES } from '../../domain/xdm/registry';

const ORG = '00D5e000000AbCdEAF';
const mapper = new SalesforceMapper(ORG);
const key = (id: string) => ({ sourceType: 'Salesforce', sourceInstanceID: ORG, sourceID: id, sourceKey: `${id}@${ORG}.Salesforce` });
const AUDIT = { IsDeleted: false, CreatedDate: '2026-10-01T08:00:00.000+0000', LastModifiedDate: '2026-10-02T09:30:00.000+0000', SystemModstamp: '2026-10-02T09:30:01.000+0000' };

function mapOk(object: Parameters<SalesforceMapper['map']>[0], xdmClass: Parameters<SalesforceMapper['map']>[1], row: Record<string, unknown>) {
  const r = mapper.map(object, xdmClass, row);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  const valid = XDM_CLASSES[xdmClass].schema.safeParse(r.record);
  assert.ok(valid.success, valid.success ? '' : JSON.stringify(valid.error.issues));
  return r.record as any;
}

describe('Salesforce date normalisation', () => {
  test('rewrites +0000 / -0530 offsets with a colon and keeps Z and fractions', () => {
    assert.equal(normaliseDateTime('2026-11-01T12:00:00.000+0000'), '2026-11-01T12:00:00.000+00:00');
    assert.equal(normaliseDateTime('2026-11-01T12:00:00-0530'), '2026-11-01T12:00:00-05:30');
    assert.equal(normaliseDateTime('2026-11-01T12:00:00.5+02:00'), '2026-11-01T12:00:00.5+02:00');
    assert.equal(normaliseDateTime('2026-11-01T12:00:00Z'), '2026-11-01T12:00:00Z');
  });

  test('refuses impossible date-times and dates', () => {
    for (const bad of ['2026-13-01T00:00:00.000+0000', '2026-02-29T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T12:00:00.000+2500', '2026-01-01 12:00:00', 'yesterday']) {
      assert.equal(normaliseDateTime(bad), null, bad);
    }
    assert.equal(normaliseDateTime('2028-02-29T00:00:00Z'), '2028-02-29T00:00:00Z');
    assert.equal(normaliseDate('2026-04-31'), null);
    assert.equal(normaliseDate('2026-04-30'), '2026-04-30');
  });
});

describe('Salesforce → XDM mapping', () => {
  test('Contact → person with account key, work email, opt-out and audit', () => {
    const rec = mapOk('Contact', 'person', {
      Id: '0035e0000000001AAA', AccountId: '0015e0000000001AAA', FirstName: 'Ada', LastName: 'Chen', Email: 'ada.chen@northwind.com',
      Title: 'CTO', Department: 'Engineering', Phone: '+14155550100', MobilePhone: null, LeadSource: 'Web', ReportsToId: null,
      HasOptedOutOfEmail: true, MailingStreet: null, MailingCity: 'Berlin', MailingState: null, MailingPostalCode: '10115', MailingCountry: 'DE', ...AUDIT,
    });
    assert.deepEqual(rec.b2b, { personKey: key('0035e0000000001AAA'), accountKey: key('0015e0000000001AAA'), accountID: '0015e0000000001AAA', personType: 'Contact', personSource: 'Web' });
    assert.deepEqual(rec.workEmail, { address: 'ada.chen@northwind.com', primary: true, type: 'work' });
    assert.deepEqual(rec.person, { name: { firstName: 'Ada', lastName: 'Chen' } });
    assert.deepEqual(rec.extendedWorkDetails, { jobTitle: 'CTO', departments: ['Engineering'], reportsToID: null });
    assert.equal(rec.workAddress.countryCode, 'DE');
    assert.equal(rec.consents.marketing.email.val, 'n');
    assert.deepEqual(rec.extSourceSystemAudit, { createdDate: '2026-10-01T08:00:00.000+00:00', lastUpdatedDate: '2026-10-02T09:30:01.000+00:00' });
    assert.equal(rec.isDeleted, false);
  });

  test('converted Lead → person with convertedContactKey, company and website', () => {
    const rec = mapOk('Lead', 'person', {
      Id: '00Q5e0000000001AAA', FirstName: 'Ben', LastName: 'Ito', Email: 'ben@acme.io', Company: 'Acme', Website: 'https://www.acme.io', Title: null, Phone: null,
      Status: 'Closed - Converted', LeadSource: 'Webinar', Industry: null, IsConverted: true, HasOptedOutOfEmail: false, ConvertedDate: '2026-10-05',
      ConvertedAccountId: '0015e0000000002AAA', ConvertedContactId: '0035e0000000002AAA', ConvertedOpportunityId: null,
      Street: null, City: null, State: null, PostalCode: null, Country: null, ...AUDIT,
    });
    assert.equal(rec.b2b.personType, 'Lead');
    assert.equal(rec.b2b.personStatus, 'Closed - Converted');
    assert.equal(rec.b2b.isConverted, true);
    assert.equal(rec.b2b.convertedDate, '2026-10-05');
    assert.deepEqual(rec.b2b.convertedContactKey, key('0035e0000000002AAA'));
    assert.deepEqual(rec.b2b.accountKey, key('0015e0000000002AAA'));
    assert.equal(rec.b2b.companyName, 'Acme');
    assert.equal(rec.b2b.companyWebsite, 'https://www.acme.io');
    assert.equal(rec.consents, null);
  });

  test('Account → account with parent key, DUNS, domain, billing address and revenue', () => {
    const rec = mapOk('Account', 'account', {
      Id: '0015e0000000003AAA', Name: 'Northwind Traders', ParentId: '0015e0000000001AAA', AccountNumber: 'ACC-3', Type: 'Prospect', AccountSource: 'Web',
      Website: 'https://www.northwind.com/about', Industry: 'Retail', Sic: '5411', DunsNumber: '12-345-6789', Phone: '+14155550101', OwnerId: '0055e0000000001AAA',
      NumberOfEmployees: 120, AnnualRevenue: 5_000_000, BillingStreet: '1 Main St', BillingCity: 'Austin', BillingState: 'TX', BillingPostalCode: '73301',
      BillingCountry: 'US', CurrencyIsoCode: 'USD', ...AUDIT,
    });
    assert.deepEqual(rec.accountParentKey, key('0015e0000000001AAA'));
    assert.equal(rec.accountOrganization.DUNSNumber, '123456789');
    assert.equal(rec.accountOrganization.domain, 'northwind.com');
    assert.deepEqual(rec.accountOrganization.annualRevenue, { amount: 5_000_000, currencyCode: 'USD' });
    assert.deepEqual(rec.accountBillingAddress, { street1: '1 Main St', city: 'Austin', state: 'TX', postalCode: '73301', country: 'US', countryCode: 'US' });
    assert.equal(rec.defaultCurrencyCode, 'USD');
    const noDuns = mapOk('Account', 'account', { Id: '0015e0000000004AAA', Name: 'X', DunsNumber: 'unknown', ...AUDIT });
    assert.equal(noDuns.accountOrganization.DUNSNumber, null);
  });

  test('Opportunity → opportunity with amount, stage, close dates and keys', () => {
    const rec = mapOk('Opportunity', 'opportunity', {
      Id: '0065e0000000001AAA', AccountId: '0015e0000000001AAA', CampaignId: '7015e0000000001AAA', Name: 'Deal', Type: 'New Business', StageName: 'Closed Won',
      LeadSource: null, NextStep: null, ForecastCategoryName: 'Closed', CloseDate: '2026-12-01', Amount: 25000, Probability: 100, FiscalYear: 2026, FiscalQuarter: 4,
      IsClosed: true, IsWon: true, CurrencyIsoCode: 'EUR', ...AUDIT,
    });
    assert.deepEqual(rec.opportunityAmount, { amount: 25000, currencyCode: 'EUR' });
    assert.deepEqual(rec.accountKey, key('0015e0000000001AAA'));
    assert.deepEqual(rec.campaignKey, key('7015e0000000001AAA'));
    assert.equal(rec.expectedCloseDate, '2026-12-01');
    assert.equal(rec.actualCloseDate, '2026-12-01');
    assert.equal(rec.fiscalQuarter, '4');
    assert.equal(rec.probabilityPercentage, 100);
  });

  test('relations: contact role, account-contact relation, campaign, campaign member', () => {
    const ocr = mapOk('OpportunityContactRole', 'opportunity-person', { Id: '00K5e0000000001AAA', OpportunityId: '0065e0000000001AAA', ContactId: '0035e0000000001AAA', Role: 'Decision Maker', IsPrimary: true, ...AUDIT });
    assert.deepEqual(ocr.personKey, key('0035e0000000001AAA'));
    assert.equal(ocr.personRole, 'Decision Maker');
    const acr = mapOk('AccountContactRelation', 'account-person', {
      Id: '07k5e0000000001AAA', AccountId: '0015e0000000001AAA', ContactId: '0035e0000000001AAA', Roles: 'Decision Maker;Influencer', StartDate: '2024-01-01', EndDate: '2026-01-01',
      IsDirect: false, IsActive: false, ...AUDIT,
    });
    assert.deepEqual(acr.personRoles, ['Decision Maker', 'Influencer']);
    assert.equal(acr.relationEndDate, '2026-01-01');
    assert.equal(acr.isDirect, false);
    const campaign = mapOk('Campaign', 'campaign', {
      Id: '7015e0000000002AAA', Name: 'Webinar', Description: null, Type: 'Webinar', Status: 'Completed', ParentId: '7015e0000000001AAA', StartDate: '2026-01-01', EndDate: '2026-02-01',
      IsActive: false, BudgetedCost: 1000, ActualCost: 900, ExpectedRevenue: null, CurrencyIsoCode: 'USD', ...AUDIT,
    });
    assert.deepEqual(campaign.parentCampaignKey, key('7015e0000000001AAA'));
    assert.deepEqual(campaign.actualCost, { amount: 900, currencyCode: 'USD' });
    const member = mapOk('CampaignMember', 'campaign-member', {
      Id: '00v5e0000000001AAA', CampaignId: '7015e0000000002AAA', LeadId: '00Q5e0000000001AAA', ContactId: null, LeadOrContactId: '00Q5e0000000001AAA', Type: 'Lead',
      Status: 'Responded', HasResponded: true, FirstRespondedDate: '2026-01-15', ...AUDIT,
    });
    assert.deepEqual(member.personKey, key('00Q5e0000000001AAA'));
    assert.deepEqual(member.b2b, { personType: 'Lead' });
    assert.equal(member.firstRespondedDate, '2026-01-15');
  });

  test('a deleted row maps to isDeleted with its key', () => {
    const rec = mapOk('Campaign', 'campaign', { Id: '7015e0000000009AAA', Name: 'Gone', ...AUDIT, IsDeleted: true });
    assert.equal(rec.isDeleted, true);
    assert.deepEqual(rec.campaignKey, key('7015e0000000009AAA'));
  });

  test('a record known only from the delete log → a deletion marker of its class: key, isDeleted and the delete date', () => {
    const cases = [
      ['Account', 'account', '0015e0000000009AAA', { accountKey: key('0015e0000000009AAA'), accountID: '0015e0000000009AAA' }],
      ['Contact', 'person', '0035e0000000009AAA', { b2b: { personKey: key('0035e0000000009AAA') } }],
      ['Lead', 'person', '00Q5e0000000009AAA', { b2b: { personKey: key('00Q5e0000000009AAA') } }],
      ['Opportunity', 'opportunity', '0065e0000000009AAA', { opportunityKey: key('0065e0000000009AAA'), opportunityID: '0065e0000000009AAA' }],
      ['OpportunityContactRole', 'opportunity-person', '00K5e0000000009AAA', { opportunityPersonKey: key('00K5e0000000009AAA'), opportunityPersonID: '00K5e0000000009AAA' }],
      ['AccountContactRelation', 'account-person', '07k5e0000000009AAA', { accountPersonKey: key('07k5e0000000009AAA'), accountPersonID: '07k5e0000000009AAA' }],
      ['Campaign', 'campaign', '7015e0000000009AAA', { campaignKey: key('7015e0000000009AAA'), campaignID: '7015e0000000009AAA' }],
      ['CampaignMember', 'campaign-member', '00v5e0000000009AAA', { campaignMemberKey: key('00v5e0000000009AAA'), campaignMemberID: '00v5e0000000009AAA' }],
    ] as const;
    for (const [object, xdmClass, id, keys] of cases) {
      const r = mapper.deletionMarker(object, xdmClass, { id, deletedDate: '2026-11-20T10:15:42.000+0000' });
      assert.ok(r.ok, object);
      assert.deepEqual(r.record, { ...keys, isDeleted: true, extSourceSystemAudit: { lastUpdatedDate: '2026-11-20T10:15:42.000+00:00' } }, object);
      const outcome = validateRecord(XDM_CLASSES[xdmClass], r.record, JSON.stringify(r.record), { position: 0, receivedAt: new Date('2026-12-01T00:00:00Z') });
      assert.equal(outcome.kind, 'accepted', object);
      if (outcome.kind === 'accepted') {
        assert.equal(outcome.value.key.key, `${id}@${ORG}.Salesforce`);
        assert.equal(outcome.value.isDeleted, true);
        assert.equal(outcome.value.sourceUpdatedAt?.toISOString(), '2026-11-20T10:15:42.000Z', `${object}: dated by the delete, not by its arrival`);
      }
    }
    const badDate = mapper.deletionMarker('Contact', 'person', { id: '0035e0000000009AAA', deletedDate: 'yesterday' });
    assert.ok(!badDate.ok && badDate.sourceKey === `0035e0000000009AAA@${ORG}.Salesforce` && /deletedDate/.test(badDate.reason));
    const badId = mapper.deletionMarker('Contact', 'person', { id: '../x', deletedDate: '2026-11-20T10:15:42.000+0000' });
    assert.ok(!badId.ok && badId.sourceKey === null);
  });

  test('malformed rows are unmappable with their key and reason', () => {
    const email = mapper.map('Contact', 'person', { Id: '0035e0000000005AAA', Email: 'not an email', ...AUDIT });
    assert.deepEqual(email.ok ? null : [email.sourceKey, /Email/.test(email.reason)], [`0035e0000000005AAA@${ORG}.Salesforce`, true]);
    const date = mapper.map('Account', 'account', { Id: '0015e0000000005AAA', ...AUDIT, CreatedDate: '2026-13-45T25:61:00.000+0000' });
    assert.ok(!date.ok && /CreatedDate/.test(date.reason));
    const id = mapper.map('Account', 'account', { Id: 'x', ...AUDIT });
    assert.ok(!id.ok && id.sourceKey === null);
    const missingRef = mapper.map('OpportunityContactRole', 'opportunity-person', { Id: '00K5e0000000005AAA', OpportunityId: null, ContactId: '0035e0000000001AAA', ...AUDIT });
    assert.ok(!missingRef.ok && /OpportunityId/.test(missingRef.reason));
  });
});

describe('Bulk CSV parsing', () => {
  test('quoted cells, doubled quotes, line breaks in quotes, empty cells, CRLF', () => {
    assert.deepEqual(parseCsv('"Id","Name","X"\n"1","A ""quoted"" name",\n"2","two\nlines",""\r\n'), [
      ['Id', 'Name', 'X'],
      ['1', 'A "quoted" name', ''],
      ['2', 'two\nlines', ''],
    ]);
    assert.deepEqual(parseCsv('a,b\n1,2'), [['a', 'b'], ['1', '2']]);
  });

  test('a quote left open (a cut body) is an error', () => {
    assert.throws(() => parseCsv('"Id","Name"\n"1","cut of'), CsvError);
  });
});
