import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { z } from 'zod';
import {
  accountPersonSchema,
  accountSchema,
  campaignMemberSchema,
  campaignSchema,
  experienceEventSchema,
  marketingListMemberSchema,
  marketingListSchema,
  opportunityPersonSchema,
  opportunitySchema,
  personSchema,
} from './classes';
import { b2bSourceSchema, consentsSchema, dateSchema, dateTimeSchema } from './common';

const MUNCHKIN = '123-ABC-456';
const SFDC_ORG = '00D4W000000FgYJUA0';

/** A B2B Source given as the key alone, and the four parts the schema must turn it into. */
const mkto = (sourceID: string) => ({ sourceKey: `${sourceID}@${MUNCHKIN}.Marketo` });
const mktoFull = (sourceID: string) => ({
  sourceType: 'Marketo',
  sourceInstanceID: MUNCHKIN,
  sourceID,
  sourceKey: `${sourceID}@${MUNCHKIN}.Marketo`,
});
/** A B2B Source given as the three parts only. */
const sfdc = (sourceID: string) => ({ sourceType: 'Salesforce', sourceInstanceID: SFDC_ORG, sourceID });
const sfdcFull = (sourceID: string) => ({ ...sfdc(sourceID), sourceKey: `${sourceID}@${SFDC_ORG}.Salesforce` });

const audit = {
  externalKey: sfdc('0015e00000ABC'),
  externalID: '0015e00000ABC',
  createdBy: 'marketo-sync',
  createdDate: '2024-01-02T03:04:05Z',
  lastUpdatedBy: 'marketo-sync',
  lastUpdatedDate: '2024-03-04T05:06:07.123+01:00',
  lastActivityDate: '2024-03-01',
  lastReferencedDate: '2024-03-02T00:00:00Z',
  lastViewedDate: '2024-03-03T00:00:00Z',
};
const normalisedAudit = { ...audit, externalKey: sfdcFull('0015e00000ABC') };

const address = {
  primary: true,
  label: 'HQ',
  street1: '1 Main St',
  street2: 'Floor 3',
  city: 'San Francisco',
  postalCode: '94105',
  state: 'California',
  stateProvince: 'US-CA',
  region: 'Bay Area',
  country: 'United States',
  countryCode: 'US',
  latitude: 37.79,
  longitude: -122.39,
  _schema: { latitude: 37.79, longitude: -122.39 },
  status: 'active',
  lastVerifiedDate: '2023-12-01',
};

/** Issues as `path: message` lines, which is what an operator reads in a quarantine row. */
function issues(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  assert.equal(result.success, false, 'expected the record to be rejected');
  return result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

function parsed(schema: z.ZodType, value: unknown): any {
  const result = schema.safeParse(value);
  if (!result.success) assert.fail(`expected the record to pass, got ${JSON.stringify(result.error.issues)}`);
  return result.data;
}

/** Asserts that some issue is at `path` and its message contains `fragment`. */
function assertIssue(found: string[], path: string, fragment: string): void {
  const match = found.some((line) => line.startsWith(`${path}: `) && line.includes(fragment));
  assert.ok(match, `no issue at '${path}' mentioning '${fragment}' in:\n${found.join('\n')}`);
}

/* ----------------------------------------------------------------------------------------- */

describe('b2bSourceSchema', () => {
  test('fills in the parts from sourceKey alone', () => {
    assert.deepEqual(parsed(b2bSourceSchema, mkto('42')), mktoFull('42'));
  });

  test('fills in sourceKey from the three parts', () => {
    assert.deepEqual(parsed(b2bSourceSchema, sfdc('003X')), sfdcFull('003X'));
  });

  test('accepts all four parts when they agree', () => {
    assert.deepEqual(parsed(b2bSourceSchema, sfdcFull('003X')), sfdcFull('003X'));
  });

  test('rejects four parts that disagree, naming both keys', () => {
    const found = issues(b2bSourceSchema, { ...sfdc('003X'), sourceKey: '003Y@other.Salesforce' });
    assert.deepEqual(found, [
      `sourceKey: sourceKey '003Y@other.Salesforce' does not match sourceID@sourceInstanceID.sourceType ('003X@${SFDC_ORG}.Salesforce')`,
    ]);
  });

  test('rejects a malformed sourceKey, showing the expected shape', () => {
    assert.deepEqual(issues(b2bSourceSchema, { sourceKey: '003X' }), [
      "sourceKey: sourceKey '003X' is not of the form {sourceID}@{sourceInstanceID}.{sourceType}",
    ]);
  });

  test('rejects parts that cannot form a key', () => {
    assertIssue(issues(b2bSourceSchema, { ...sfdc('003X'), sourceInstanceID: 'acme.na' }), 'sourceInstanceID', "must not contain '@' or '.'");
    assertIssue(issues(b2bSourceSchema, { ...sfdc('003X'), sourceID: ' ' }), 'sourceID', 'must not be blank');
  });

  test('rejects an incomplete set of parts, listing what is missing', () => {
    assert.deepEqual(issues(b2bSourceSchema, { sourceType: 'Salesforce', sourceKey: '1@a.Salesforce' }), [
      ': a B2B source needs sourceKey alone, or sourceType, sourceInstanceID and sourceID (optionally with a matching sourceKey); missing: sourceInstanceID, sourceID',
    ]);
    assertIssue(issues(b2bSourceSchema, {}), '', 'missing: sourceType, sourceInstanceID, sourceID');
  });

  test('rejects unknown keys and wrong types', () => {
    assertIssue(issues(b2bSourceSchema, { ...mkto('1'), id: '1' }), '', 'Unrecognized key: "id"');
    assertIssue(issues(b2bSourceSchema, { sourceKey: 42 }), 'sourceKey', 'expected string');
  });
});

describe('dates', () => {
  test('date-times need a time and an offset', () => {
    for (const ok of ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.123456+05:30', '2024-05-01T12:00:00-08:00']) {
      assert.equal(dateTimeSchema.safeParse(ok).success, true, ok);
    }
    for (const bad of ['2024-05-01', '2024-05-01T12:00:00', '2024-05-01 12:00:00Z', '2024-02-30T12:00:00Z', 'yesterday']) {
      assert.equal(dateTimeSchema.safeParse(bad).success, false, bad);
    }
  });

  test('business dates may be plain dates or date-times', () => {
    for (const ok of ['2024-05-01', '2024-02-29', '2024-05-01T12:00:00Z']) {
      assert.equal(dateSchema.safeParse(ok).success, true, ok);
    }
    for (const bad of ['2023-02-29', '2024-13-01', '01/05/2024', '2024-05-01T12:00:00']) {
      assert.equal(dateSchema.safeParse(bad).success, false, bad);
    }
    assert.deepEqual(issues(dateSchema, '2024-13-01'), [': expected an ISO 8601 date (YYYY-MM-DD) or date-time with offset']);
  });
});

describe('consentsSchema', () => {
  test('accepts the common consent and preference fields', () => {
    const consents = {
      collect: { val: 'y' },
      share: { val: 'n' },
      personalize: { content: { val: 'VI' } },
      marketing: {
        preferred: 'email',
        any: { val: 'u' },
        email: { val: 'n', reason: 'unsubscribed', time: '2024-01-01T00:00:00Z', subscriptions: { newsletter: { val: 'y' } } },
        call: { val: 'dy' },
        sms: { val: 'dn' },
      },
      idSpecific: { Email: { 'jane@acme.com': { marketing: { email: { val: 'p' } } } } },
      metadata: { time: '2024-01-01T00:00:00Z' },
    };
    assert.deepEqual(parsed(consentsSchema, consents), consents);
  });

  test('rejects unknown choice values and channels', () => {
    assertIssue(issues(consentsSchema, { marketing: { email: { val: 'yes' } } }), 'marketing.email.val', 'Invalid option');
    assertIssue(issues(consentsSchema, { marketing: { pigeon: { val: 'y' } } }), 'marketing', 'Unrecognized key: "pigeon"');
  });
});

/* ----------------------------------------------------------------------------------------- */

describe('account', () => {
  const rich = {
    _id: 'acc-1',
    accountKey: { sourceKey: '1234567.mkto_org@123-ABC-456.Marketo' },
    accountID: '1234567',
    accountName: 'Acme Corp',
    accountNumber: 'A-001',
    accountDescription: 'Makes anvils',
    accountSite: 'Headquarters',
    accountType: 'Customer',
    accountSourceType: 'Web',
    accountTerritoryID: 'T-1',
    accountScore: 87.5,
    accountOwnerID: '005X',
    accountOwnership: 'Public',
    accountTradeStyle: 'Acme',
    defaultCurrencyCode: 'USD',
    accountPhone: { number: '+1 415 555 0100', primary: true },
    accountFax: { number: '+1 415 555 0101' },
    accountBillingAddress: address,
    accountShippingAddress: { city: 'Oakland', countryCode: 'US' },
    accountPhysicalAddress: { city: 'San Francisco' },
    partnerAccountID: 'P-9',
    accountParentID: '7654321.mkto_org',
    accountParentKey: mkto('7654321.mkto_org'),
    accountOrganization: {
      organizationType: 'Corporation',
      numberOfEmployees: 1200,
      annualRevenue: { amount: 125000000, currencyCode: 'USD' },
      industry: 'Manufacturing',
      website: 'https://www.acme.com/about',
      domain: 'acme.com',
      marketSegment: 'Enterprise',
      rating: 0.8,
      tickerSymbol: 'ACME',
      logoUrl: 'https://acme.com/logo.png',
      linkedinPageUrl: 'https://linkedin.com/company/acme',
      twitterHandleUrl: 'https://twitter.com/acme',
      facebookPageUrl: 'https://facebook.com/acme',
      NAICSCode: '332',
      NAICSDescription: 'Fabricated Metal',
      SICCode: '3420',
      SICDescription: 'Cutlery, Handtools',
      DUNSNumber: '012345678',
      jigsaw: 'J1',
      primaryEmailDomain: 'acme.com',
      companyProductAndServices: 'Anvils',
    },
    relatedAccounts: ['A2', 'A3'],
    relatedAccountKeys: [mkto('A2.mkto_org'), sfdc('001Z')],
    extSourceSystemAudit: audit,
    isDeleted: false,
    _acme: { tier: 'gold', nested: { anything: [1, 2] } },
  };

  test('a minimal record passes and its key is normalised', () => {
    assert.deepEqual(parsed(accountSchema, { accountKey: sfdc('001A') }), { accountKey: sfdcFull('001A') });
  });

  test('a rich record passes with every B2B source normalised and tenant fields kept', () => {
    const out = parsed(accountSchema, rich);
    assert.deepEqual(out.accountKey, mktoFull('1234567.mkto_org'));
    assert.deepEqual(out.accountParentKey, mktoFull('7654321.mkto_org'));
    assert.deepEqual(out.relatedAccountKeys, [mktoFull('A2.mkto_org'), sfdcFull('001Z')]);
    assert.deepEqual(out.extSourceSystemAudit, normalisedAudit);
    assert.deepEqual(out._acme, rich._acme);
    assert.deepEqual(out.accountOrganization, rich.accountOrganization);
    assert.deepEqual(out.accountBillingAddress, address);
  });

  test('optional fields may be null, as Adobe data prep writes them', () => {
    const out = parsed(accountSchema, { accountKey: sfdc('001A'), accountParentKey: null, accountOrganization: { website: null } });
    assert.equal(out.accountParentKey, null);
  });

  test('a missing accountKey is reported at its path', () => {
    assertIssue(issues(accountSchema, { accountName: 'Acme' }), 'accountKey', 'expected object');
  });

  test('wrong types and formats are reported at their paths', () => {
    const found = issues(accountSchema, {
      accountKey: sfdc('001A'),
      accountScore: '87',
      defaultCurrencyCode: 'usd',
      isDeleted: 'no',
      accountOrganization: {
        numberOfEmployees: 12.5,
        DUNSNumber: '12345678',
        rating: 2,
        annualRevenue: { currencyCode: 'USD' },
      },
      accountBillingAddress: { countryCode: 'usa' },
    });
    assertIssue(found, 'accountScore', 'expected number');
    assertIssue(found, 'defaultCurrencyCode', 'ISO 4217');
    assertIssue(found, 'isDeleted', 'expected boolean');
    assertIssue(found, 'accountOrganization.numberOfEmployees', 'expected int');
    assertIssue(found, 'accountOrganization.DUNSNumber', '9 digits');
    assertIssue(found, 'accountOrganization.rating', '<=1');
    assertIssue(found, 'accountOrganization.annualRevenue.amount', 'expected number');
    assertIssue(found, 'accountBillingAddress.countryCode', 'ISO 3166-1');
  });

  test('unknown keys are named, at the top level and inside objects, together with other issues', () => {
    const found = issues(accountSchema, {
      accountKey: { sourceKey: 'nope' },
      acountName: 'typo',
      website: 'acme.com',
      accountOrganization: { employees: 5 },
    });
    assertIssue(found, '', "unknown fields 'acountName', 'website' (not in XDM Business Account");
    assertIssue(found, 'accountOrganization', 'Unrecognized key: "employees"');
    assertIssue(found, 'accountKey.sourceKey', 'is not of the form');
  });

  test('tenant field groups must be objects, and _id must be a string', () => {
    assertIssue(issues(accountSchema, { accountKey: sfdc('001A'), _acme: 'gold' }), '_acme', "tenant field group '_acme' must be an object");
    assertIssue(issues(accountSchema, { accountKey: sfdc('001A'), _id: 7 }), '_id', 'expected string');
  });

  test('only _{tenantId} keys are tenant field groups', () => {
    const record = JSON.parse('{"accountKey": {"sourceKey": "1@a.b"}, "__proto__": {"polluted": true}}');
    assertIssue(issues(accountSchema, record), '', "unknown field '__proto__'");
  });

  test('the deprecated accountComponents array is refused with a reason', () => {
    assertIssue(issues(accountSchema, { accountKey: sfdc('001A'), accountComponents: [] }), '', 'accountComponents is deprecated');
  });

  test('a record that is not an object is rejected', () => {
    assertIssue(issues(accountSchema, 'Acme'), '', 'expected object');
    assertIssue(issues(accountSchema, null), '', 'expected object');
  });
});

describe('opportunity', () => {
  const rich = {
    opportunityKey: sfdc('006A'),
    opportunityID: '006A',
    opportunityName: 'Acme anvils 2024',
    opportunityDescription: '200 anvils',
    opportunityType: 'New Business',
    opportunityStage: 'Negotiation',
    accountKey: sfdc('001A'),
    accountID: '001A',
    campaignKey: sfdc('701A'),
    campaignID: '701A',
    fiscalYear: 2024,
    fiscalQuarter: 'Q3',
    forecastCategory: 'commit',
    forecastCategoryName: 'Commit',
    isClosed: false,
    isWon: false,
    probabilityPercentage: 60,
    opportunityAmount: { amount: 50000, currencyCode: 'EUR' },
    expectedRevenue: { amount: 30000, currencyCode: 'EUR' },
    opportunityQuantity: 200,
    expectedCloseDate: '2024-09-30',
    actualCloseDate: null,
    lastActivityDate: '2024-06-01',
    leadSource: 'Web',
    nextStep: 'Send contract',
    extSourceSystemAudit: audit,
    isDeleted: false,
  };

  test('minimal and rich records pass', () => {
    assert.deepEqual(parsed(opportunitySchema, { opportunityKey: mkto('9') }), { opportunityKey: mktoFull('9') });
    const out = parsed(opportunitySchema, rich);
    assert.deepEqual(out.accountKey, sfdcFull('001A'));
    assert.deepEqual(out.campaignKey, sfdcFull('701A'));
    assert.equal(out.expectedCloseDate, '2024-09-30');
  });

  test('bounds and formats are checked', () => {
    const found = issues(opportunitySchema, {
      opportunityKey: sfdc('006A'),
      fiscalYear: 24,
      fiscalQuarter: 'Q5',
      probabilityPercentage: 120,
      isWon: 'true',
      expectedCloseDate: '30/09/2024',
      opportunityAmount: { amount: 1, currencyCode: 'EURO' },
    });
    assertIssue(found, 'fiscalYear', '>=1000');
    assertIssue(found, 'fiscalQuarter', 'Q1-Q4');
    assertIssue(found, 'probabilityPercentage', '<=100');
    assertIssue(found, 'isWon', 'expected boolean');
    assertIssue(found, 'expectedCloseDate', 'ISO 8601 date');
    assertIssue(found, 'opportunityAmount.currencyCode', 'ISO 4217');
  });

  test('an inconsistent account reference is reported where it is', () => {
    assertIssue(
      issues(opportunitySchema, { opportunityKey: sfdc('006A'), accountKey: { ...sfdc('001A'), sourceKey: '001B@x.Salesforce' } }),
      'accountKey.sourceKey',
      "does not match sourceID@sourceInstanceID.sourceType ('001A@",
    );
  });
});

describe('person', () => {
  const rich = {
    _id: 'person-1',
    b2b: {
      personKey: mkto('1001'),
      accountKey: mkto('1234567.mkto_org'),
      accountID: '1234567.mkto_org',
      convertedContactKey: sfdc('003C'),
      convertedContactID: '003C',
      isConverted: true,
      convertedDate: '2024-02-01T10:00:00Z',
      isBlocked: false,
      blockedCause: null,
      isMarketingSuspended: false,
      marketingSuspendedCause: null,
      personScore: 42.5,
      personSource: 'Webinar',
      personStatus: 'MQL',
      personType: 'Lead',
      personGroupID: 'Default',
      companyName: 'Acme',
      companyWebsite: 'acme.com',
    },
    extSourceSystemAudit: audit,
    extendedWorkDetails: {
      jobTitle: 'CTO',
      departments: ['Engineering'],
      reportsToID: '003B',
      photoUrl: 'https://acme.com/jane.png',
      assistantDetails: { name: { fullName: 'Sam Assist' }, phone: { number: '+1 555 0102' } },
    },
    workEmail: { address: 'Jane.Doe@Acme.com ', primary: true, type: 'work', status: 'active' },
    personalEmail: { address: 'jane@example.org' },
    workPhone: { number: '+1 555 0100', countryCode: '1', extension: '12' },
    mobilePhone: { number: '+1 555 0199', primary: true },
    homePhone: { number: '+1 555 0198' },
    faxPhone: { number: '+1 555 0197' },
    otherPhone: { number: '+1 555 0196' },
    workAddress: address,
    homeAddress: { city: 'Berkeley' },
    otherAddress: { city: 'Austin' },
    person: {
      name: { firstName: 'Jane', middleName: 'Q', lastName: 'Doe', fullName: 'Dr. Jane Q Doe', courtesyTitle: 'Dr.', suffix: 'PhD' },
      birthDate: '1980-04-05',
      gender: 'female',
    },
    organizations: ['Acme'],
    identityMap: {
      ECID: [{ id: '12345678901234567890', authenticatedState: 'ambiguous' }],
      Email: [{ id: 'jane.doe@acme.com', primary: false }],
    },
    consents: { marketing: { email: { val: 'n', reason: 'unsubscribed' } } },
    isDeleted: false,
    _acme: { loyaltyTier: 'gold' },
  };

  test('a minimal record needs only b2b.personKey', () => {
    assert.deepEqual(parsed(personSchema, { b2b: { personKey: sfdc('003A') } }), { b2b: { personKey: sfdcFull('003A') } });
  });

  test('a rich record passes with its references normalised', () => {
    const out = parsed(personSchema, rich);
    assert.deepEqual(out.b2b.personKey, mktoFull('1001'));
    assert.deepEqual(out.b2b.accountKey, mktoFull('1234567.mkto_org'));
    assert.deepEqual(out.b2b.convertedContactKey, sfdcFull('003C'));
    assert.deepEqual(out.extSourceSystemAudit, normalisedAudit);
    assert.equal(out.workEmail.address, 'Jane.Doe@Acme.com ', 'values are not rewritten by the schema');
    assert.deepEqual(out.identityMap, rich.identityMap);
    assert.deepEqual(out._acme, rich._acme);
  });

  test('b2b and b2b.personKey are required', () => {
    assertIssue(issues(personSchema, { workEmail: { address: 'a@b.c' } }), 'b2b', 'expected object');
    assertIssue(issues(personSchema, { b2b: { personType: 'Lead' } }), 'b2b.personKey', 'expected object');
  });

  test('personComponents is refused, explaining that the platform assembles it, along with other issues', () => {
    const found = issues(personSchema, {
      b2b: { personKey: sfdc('003A') },
      personComponents: [{ sourcePersonKey: sfdc('003A') }],
      workEmail: { address: 'not an email' },
    });
    assertIssue(found, '', 'personComponents is assembled by the platform');
    assertIssue(found, 'workEmail.address', 'expected an email address');
  });

  test('field types and formats are checked', () => {
    const found = issues(personSchema, {
      b2b: { personKey: sfdc('003A'), personScore: 'high', convertedDate: 'last week', isBlocked: 1 },
      person: { gender: 'f', birthDate: '1980-02-30', name: { first: 'Jane' } },
      organizations: 'Acme',
      identityMap: { Email: [{ id: '', authenticatedState: 'maybe' }], ECID: { id: '1' } },
      workPhone: { number: 5550100 },
      mobilePhone: { primary: true },
      personalEmail: { type: 'personal' },
      workEmail: { address: 'a@b.c', primary: 'yes' },
      extSourceSystemAudit: { lastUpdatedDate: '2024-01-01T10:00:00' },
    });
    assertIssue(found, 'b2b.personScore', 'expected number');
    assertIssue(found, 'b2b.convertedDate', 'ISO 8601 date');
    assertIssue(found, 'b2b.isBlocked', 'expected boolean');
    assertIssue(found, 'person.gender', 'Invalid option');
    assertIssue(found, 'person.birthDate', 'ISO 8601 date');
    assertIssue(found, 'person.name', 'Unrecognized key: "first"');
    assertIssue(found, 'organizations', 'expected array');
    assertIssue(found, 'identityMap.Email.0.id', 'must not be blank');
    assertIssue(found, 'identityMap.Email.0.authenticatedState', 'Invalid option');
    assertIssue(found, 'identityMap.ECID', 'expected array');
    assertIssue(found, 'workPhone.number', 'expected string');
    assertIssue(found, 'mobilePhone.number', 'expected string');
    assertIssue(found, 'personalEmail.address', 'expected an email address');
    assertIssue(found, 'workEmail.primary', 'expected boolean');
    assertIssue(found, 'extSourceSystemAudit.lastUpdatedDate', 'date-time with offset');
  });
});

describe('account-person', () => {
  const rich = {
    accountPersonKey: sfdc('07kA'),
    accountPersonID: '07kA',
    accountKey: sfdc('001A'),
    accountID: '001A',
    personKey: sfdc('003A'),
    personID: '003A',
    personRoles: ['Decision Maker', 'Champion'],
    isPrimary: true,
    isActive: true,
    isDirect: true,
    relationStartDate: '2022-01-01',
    relationEndDate: null,
    relationshipSource: 'lead-to-account-matching',
    currencyCode: 'USD',
    matchedAccount: { matchingScore: 0.93, scoreCreatedDate: '2024-01-01T00:00:00Z' },
    extSourceSystemAudit: audit,
    isDeleted: false,
  };

  test('minimal and rich records pass', () => {
    const minimal = { accountPersonKey: sfdc('07kA'), accountKey: sfdc('001A'), personKey: sfdc('003A') };
    assert.deepEqual(parsed(accountPersonSchema, minimal), {
      accountPersonKey: sfdcFull('07kA'),
      accountKey: sfdcFull('001A'),
      personKey: sfdcFull('003A'),
    });
    const out = parsed(accountPersonSchema, rich);
    assert.deepEqual(out.matchedAccount, rich.matchedAccount);
    assert.deepEqual(out.personRoles, rich.personRoles);
  });

  test('both ends of the relation are required', () => {
    const found = issues(accountPersonSchema, { accountPersonKey: sfdc('07kA') });
    assertIssue(found, 'accountKey', 'expected object');
    assertIssue(found, 'personKey', 'expected object');
  });

  test('roles are a list of strings', () => {
    assertIssue(issues(accountPersonSchema, { ...rich, personRoles: [1] }), 'personRoles.0', 'expected string');
  });
});

describe('opportunity-person', () => {
  test('minimal and rich records pass', () => {
    const minimal = { opportunityPersonKey: mkto('55'), opportunityKey: mkto('9'), personKey: mkto('1001') };
    assert.deepEqual(parsed(opportunityPersonSchema, minimal), {
      opportunityPersonKey: mktoFull('55'),
      opportunityKey: mktoFull('9'),
      personKey: mktoFull('1001'),
    });
    const rich = {
      ...minimal,
      opportunityPersonID: '55',
      opportunityID: '9',
      personID: '1001',
      personRole: 'Decision Maker',
      isPrimary: true,
      extSourceSystemAudit: audit,
      isDeleted: true,
    };
    assert.equal(parsed(opportunityPersonSchema, rich).personRole, 'Decision Maker');
  });

  test('the opportunity and the person are required', () => {
    const found = issues(opportunityPersonSchema, { opportunityPersonKey: mkto('55'), personRoles: ['x'] });
    assertIssue(found, 'opportunityKey', 'expected object');
    assertIssue(found, 'personKey', 'expected object');
    assertIssue(found, '', "unknown field 'personRoles'");
  });
});

describe('campaign', () => {
  test('minimal and rich records pass', () => {
    assert.deepEqual(parsed(campaignSchema, { campaignKey: mkto('1001') }), { campaignKey: mktoFull('1001') });
    const rich = {
      campaignKey: mkto('1001'),
      campaignID: '1001',
      campaignName: 'Spring webinar',
      campaignDescription: 'Anvil safety',
      campaignType: 'Webinar',
      parentCampaignKey: mkto('1000'),
      parentCampaignID: '1000',
      campaignStatus: 'Active',
      campaignProgressionName: 'Webinar progression',
      channelName: 'Webinar',
      integrationPartnerName: 'Zoom',
      campaignStartDate: '2024-04-01',
      campaignEndDate: '2024-04-30T23:59:59Z',
      timeZone: 'America/Los_Angeles',
      timezoneName: 'Pacific Time',
      timeZoneDelivery: 'recipient',
      webinarSessionName: 'Session 1',
      webinarSessionDescription: 'First session',
      webinarHistorySyncStatus: 'synced',
      webinarHistorySyncDate: '2024-05-01T00:00:00Z',
      isActive: true,
      lastActivityDate: '2024-04-15',
      expectedResponse: '5%',
      expectedRevenue: { amount: 100000, currencyCode: 'USD' },
      budgetedCost: { amount: 5000, currencyCode: 'USD' },
      actualCost: { amount: 4200 },
      extSourceSystemAudit: audit,
      isDeleted: false,
    };
    assert.deepEqual(parsed(campaignSchema, rich).parentCampaignKey, mktoFull('1000'));
  });

  test('costs are currency objects', () => {
    assertIssue(issues(campaignSchema, { campaignKey: mkto('1'), actualCost: 4200 }), 'actualCost', 'expected object');
  });
});

describe('campaign-member', () => {
  const minimal = { campaignMemberKey: mkto('77'), campaignKey: mkto('1001'), personKey: mkto('1001') };

  test('minimal and rich records pass', () => {
    assert.deepEqual(parsed(campaignMemberSchema, minimal), {
      campaignMemberKey: mktoFull('77'),
      campaignKey: mktoFull('1001'),
      personKey: mktoFull('1001'),
    });
    const rich = {
      ...minimal,
      campaignMemberID: '77',
      campaignID: '1001',
      personID: '1001',
      memberStatus: 'Attended',
      memberStatusReason: 'Joined live',
      membershipDate: '2024-04-02T10:00:00Z',
      nurtureTrackName: 'Track A',
      nurtureCadence: 'normal',
      isExhausted: false,
      hasReachedSuccess: true,
      reachedSuccessDate: '2024-04-10T10:00:00Z',
      acquiredByCampaignKey: mkto('1002'),
      acquiredByCampaignID: '1002',
      webinarRegistrationID: 'R-1',
      webinarConfirmationUrl: 'https://zoom.us/r/1',
      lastStatus: 'Registered',
      hasResponded: true,
      firstRespondedDate: '2024-04-02',
      b2b: { personType: 'Lead' },
      extSourceSystemAudit: audit,
      isDeleted: false,
    };
    const out = parsed(campaignMemberSchema, rich);
    assert.deepEqual(out.acquiredByCampaignKey, mktoFull('1002'));
    assert.deepEqual(out.b2b, { personType: 'Lead' });
  });

  test('the campaign and the person are required', () => {
    assertIssue(issues(campaignMemberSchema, { campaignMemberKey: mkto('77'), personKey: mkto('1') }), 'campaignKey', 'expected object');
  });

  test('b2b on a member only holds the person type', () => {
    assertIssue(issues(campaignMemberSchema, { ...minimal, b2b: { personKey: mkto('1') } }), 'b2b', 'Unrecognized key: "personKey"');
  });
});

describe('marketing-list', () => {
  test('minimal and rich records pass', () => {
    assert.deepEqual(parsed(marketingListSchema, { marketingListKey: mkto('5') }), { marketingListKey: mktoFull('5') });
    const rich = {
      marketingListKey: mkto('5'),
      marketingListID: '5',
      marketingListName: 'Webinar invitees',
      marketingListDescription: 'Q2',
      extSourceSystemAudit: { createdDate: '2024-01-01T00:00:00Z' },
      isDeleted: false,
    };
    assert.equal(parsed(marketingListSchema, rich).marketingListName, 'Webinar invitees');
  });

  test('the key is required and must be a B2B source', () => {
    assertIssue(issues(marketingListSchema, { marketingListName: 'x' }), 'marketingListKey', 'expected object');
    assertIssue(issues(marketingListSchema, { marketingListKey: '5@123-ABC-456.Marketo' }), 'marketingListKey', 'expected object');
  });
});

describe('marketing-list-member', () => {
  test('minimal and rich records pass', () => {
    const minimal = { marketingListMemberKey: mkto('5-1001'), marketingListKey: mkto('5'), personKey: mkto('1001') };
    assert.deepEqual(parsed(marketingListMemberSchema, minimal), {
      marketingListMemberKey: mktoFull('5-1001'),
      marketingListKey: mktoFull('5'),
      personKey: mktoFull('1001'),
    });
    const rich = { ...minimal, marketingListMemberID: '5-1001', marketingListID: '5', personID: '1001', isDeleted: false };
    assert.equal(parsed(marketingListMemberSchema, rich).personID, '1001');
  });

  test('the list and the person are required', () => {
    const found = issues(marketingListMemberSchema, { marketingListMemberKey: mkto('5-1001') });
    assertIssue(found, 'marketingListKey', 'expected object');
    assertIssue(found, 'personKey', 'expected object');
  });
});

describe('experience-event', () => {
  const minimal = {
    _id: 'mkto-act-1',
    timestamp: '2024-04-02T10:00:00.000Z',
    eventType: 'web.webpagedetails.pageViews',
    personKey: mkto('1001'),
  };

  test('a minimal event passes with its actor normalised', () => {
    assert.deepEqual(parsed(experienceEventSchema, minimal), { ...minimal, personKey: mktoFull('1001') });
  });

  test('rich activities pass; known references are normalised and other activity fields kept', () => {
    const rich = {
      ...minimal,
      producedBy: 'self',
      personID: '1001',
      identityMap: { ECID: [{ id: '123', primary: false }] },
      web: {
        webPageDetails: { URL: 'https://acme.com/pricing', name: 'Pricing', pageViews: { value: 1 }, isPersonalizedURL: false },
        webReferrer: { URL: 'https://google.com' },
        fillOutForm: { webFormID: '12', webFormName: 'Contact us' },
        _marketo: { URL: 'https://acme.com/pricing' },
      },
      environment: { ipV4: '10.0.0.1', browserDetails: { userAgent: 'Mozilla/5.0' } },
      device: { isMobileDevice: false },
      search: { keywords: 'anvils', searchEngine: 'Google' },
      marketing: { trackingCode: 'spring24', campaignName: 'Spring' },
      directMarketing: { mailingID: 'M1', emailBouncedCode: '550', emailBouncedDetails: 'no such user' },
      listOperations: { listKey: mkto('5'), listID: '5' },
      opportunityEvent: {
        opportunityKey: sfdc('006A'),
        isPrimary: true,
        role: 'Champion',
        dataValueChanges: [{ attributeName: 'Stage', oldValue: 'Prospect', newValue: 'Negotiation' }],
      },
      leadOperation: {
        campaignProgression: { campaignKey: mkto('1001'), newStatusName: 'Attended', isSuccessful: true },
        changeScore: { newValue: 50, oldValue: 40, scoreAttributeName: 'Behavior' },
        changeRevenueStage: { modelKey: mkto('M1'), newStageName: 'MQL' },
        newLead: { formName: 'Contact us' },
      },
      _acme: { region: 'EMEA' },
    };
    const out = parsed(experienceEventSchema, rich);
    assert.deepEqual(out.listOperations.listKey, mktoFull('5'));
    assert.deepEqual(out.opportunityEvent.opportunityKey, sfdcFull('006A'));
    assert.deepEqual(out.leadOperation.campaignProgression, {
      campaignKey: mktoFull('1001'),
      newStatusName: 'Attended',
      isSuccessful: true,
    });
    assert.deepEqual(out.leadOperation.changeRevenueStage.modelKey, mktoFull('M1'));
    assert.deepEqual(out.leadOperation.changeScore, rich.leadOperation.changeScore);
    assert.deepEqual(out.directMarketing, rich.directMarketing);
    assert.deepEqual(out.web._marketo, rich.web._marketo);
  });

  test('_id, timestamp, eventType and personKey are required', () => {
    const found = issues(experienceEventSchema, {});
    for (const path of ['_id', 'timestamp', 'eventType', 'personKey']) assertIssue(found, path, 'expected');
  });

  test('identity and time are validated', () => {
    const found = issues(experienceEventSchema, {
      ...minimal,
      _id: 'x'.repeat(257),
      timestamp: '2024-04-02',
      eventType: ' ',
      personKey: { sourceKey: '1001' },
    });
    assertIssue(found, '_id', '<=256');
    assertIssue(found, 'timestamp', 'date-time with offset');
    assertIssue(found, 'eventType', 'must not be blank');
    assertIssue(found, 'personKey.sourceKey', 'is not of the form');
  });

  test('the top level stays strict while typed activity fields are still checked', () => {
    const found = issues(experienceEventSchema, {
      ...minimal,
      isDeleted: false,
      activity: {},
      listOperations: { listKey: { sourceType: 'Marketo' } },
      web: { webPageDetails: { pageViews: { value: 'one' } } },
    });
    assertIssue(found, '', "unknown fields 'isDeleted', 'activity'");
    assertIssue(found, 'listOperations.listKey', 'missing: sourceInstanceID, sourceID');
    assertIssue(found, 'web.webPageDetails.pageViews.value', 'expected number');
  });
});
