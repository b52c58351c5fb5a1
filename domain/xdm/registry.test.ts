import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { XDM_CLASS_NAMES, type ColumnType, type LeafKind, type XdmClassName } from './class-spec';
import { canonicalWebDomain } from '../identity/normalise';
import { XDM_CLASSES, findXdmClass, leafKindAt } from './registry';

const normaliseWebDomain = (v: unknown) => (typeof v === 'string' ? canonicalWebDomain(v) : null);

const ORG = '00D4W000000FgYJUA0';
const sfdc = (sourceID: string) => ({ sourceKey: `${sourceID}@${ORG}.Salesforce` });
const audit = {
  externalKey: { sourceKey: '1234567.mkto_org@123-ABC-456.Marketo' },
  lastUpdatedDate: '2024-03-04T05:06:07.123+01:00',
};

/** One parsed sample record per class, with every extracted column filled in. */
const samples: Record<XdmClassName, unknown> = {
  account: {
    accountKey: sfdc('001A'),
    accountParentKey: sfdc('001P'),
    accountName: 'Acme Corp',
    accountOrganization: { DUNSNumber: '012345678', website: 'https://WWW.Acme.com/about' },
    extSourceSystemAudit: audit,
    isDeleted: true,
  },
  opportunity: {
    opportunityKey: sfdc('006A'),
    accountKey: sfdc('001A'),
    campaignKey: sfdc('701A'),
    opportunityStage: 'Negotiation',
    isClosed: true,
    isWon: false,
    opportunityAmount: { amount: 50000.5, currencyCode: 'USD' },
    expectedCloseDate: '2024-09-30',
    extSourceSystemAudit: audit,
  },
  person: {
    b2b: {
      personKey: sfdc('00QA'),
      accountKey: sfdc('001A'),
      personType: 'Lead',
      convertedContactKey: sfdc('003C'),
    },
    workEmail: { address: '  Jane.Doe@Acme.COM ' },
    extSourceSystemAudit: audit,
  },
  'account-person': {
    accountPersonKey: sfdc('07kA'),
    accountKey: sfdc('001A'),
    personKey: sfdc('003A'),
    isActive: false,
    isPrimary: true,
    extSourceSystemAudit: audit,
  },
  'opportunity-person': {
    opportunityPersonKey: sfdc('00KA'),
    opportunityKey: sfdc('006A'),
    personKey: sfdc('003A'),
    personRole: 'Decision Maker',
    extSourceSystemAudit: audit,
  },
  campaign: { campaignKey: sfdc('701B'), parentCampaignKey: sfdc('701A'), extSourceSystemAudit: audit },
  'campaign-member': {
    campaignMemberKey: sfdc('00vA'),
    campaignKey: sfdc('701A'),
    personKey: sfdc('003A'),
    memberStatus: 'Responded',
    extSourceSystemAudit: audit,
  },
  'marketing-list': { marketingListKey: sfdc('L1'), marketingListName: 'Webinar invitees', extSourceSystemAudit: audit },
  'marketing-list-member': {
    marketingListMemberKey: sfdc('LM1'),
    marketingListKey: sfdc('L1'),
    personKey: sfdc('003A'),
    extSourceSystemAudit: audit,
  },
  'experience-event': {
    _id: 'act-1',
    timestamp: '2024-04-02T10:00:00.000+02:00',
    eventType: 'directMarketing.emailOpened',
    personKey: sfdc('003A'),
  },
};

/** Every class's columns: name, type and the value extracted from its sample. */
const expectedColumns: Record<XdmClassName, Array<[string, ColumnType, string | number | boolean | null]>> = {
  account: [
    ['parent_key', 'text', `001P@${ORG}.Salesforce`],
    ['account_name', 'text', 'Acme Corp'],
    ['duns_number', 'text', '012345678'],
    ['website_domain', 'text', 'acme.com'],
  ],
  opportunity: [
    ['account_key', 'text', `001A@${ORG}.Salesforce`],
    ['campaign_key', 'text', `701A@${ORG}.Salesforce`],
    ['stage', 'text', 'Negotiation'],
    ['is_closed', 'boolean', true],
    ['is_won', 'boolean', false],
    ['amount', 'numeric', 50000.5],
    ['expected_close_date', 'text', '2024-09-30'],
  ],
  person: [
    ['account_key', 'text', `001A@${ORG}.Salesforce`],
    ['work_email', 'text', 'jane.doe@acme.com'],
    ['person_type', 'text', 'Lead'],
    ['converted_contact_key', 'text', `003C@${ORG}.Salesforce`],
  ],
  'account-person': [
    ['account_key', 'text', `001A@${ORG}.Salesforce`],
    ['person_key', 'text', `003A@${ORG}.Salesforce`],
    ['is_active', 'boolean', false],
    ['is_primary', 'boolean', true],
  ],
  'opportunity-person': [
    ['opportunity_key', 'text', `006A@${ORG}.Salesforce`],
    ['person_key', 'text', `003A@${ORG}.Salesforce`],
    ['person_role', 'text', 'Decision Maker'],
  ],
  campaign: [['parent_campaign_key', 'text', `701A@${ORG}.Salesforce`]],
  'campaign-member': [
    ['campaign_key', 'text', `701A@${ORG}.Salesforce`],
    ['person_key', 'text', `003A@${ORG}.Salesforce`],
    ['member_status', 'text', 'Responded'],
  ],
  'marketing-list': [['list_name', 'text', 'Webinar invitees']],
  'marketing-list-member': [
    ['marketing_list_key', 'text', `L1@${ORG}.Salesforce`],
    ['person_key', 'text', `003A@${ORG}.Salesforce`],
  ],
  'experience-event': [
    ['person_key', 'text', `003A@${ORG}.Salesforce`],
    ['event_type', 'text', 'directMarketing.emailOpened'],
    ['occurred_at', 'timestamptz', '2024-04-02T10:00:00.000+02:00'],
  ],
};

/** Each class with only its required fields. */
const minimalRecords: Record<XdmClassName, unknown> = {
  account: { accountKey: sfdc('001A') },
  opportunity: { opportunityKey: sfdc('006A') },
  person: { b2b: { personKey: sfdc('00QA') } },
  'account-person': { accountPersonKey: sfdc('07kA'), accountKey: sfdc('001A'), personKey: sfdc('003A') },
  'opportunity-person': { opportunityPersonKey: sfdc('00KA'), opportunityKey: sfdc('006A'), personKey: sfdc('003A') },
  campaign: { campaignKey: sfdc('701B') },
  'campaign-member': { campaignMemberKey: sfdc('00vA'), campaignKey: sfdc('701A'), personKey: sfdc('003A') },
  'marketing-list': { marketingListKey: sfdc('L1') },
  'marketing-list-member': { marketingListMemberKey: sfdc('LM1'), marketingListKey: sfdc('L1'), personKey: sfdc('003A') },
  'experience-event': samples['experience-event'],
};

/** The columns that read null from the minimal record (the others come from required fields). */
const nullWhenMinimal: Record<XdmClassName, string[]> = {
  account: ['parent_key', 'account_name', 'duns_number', 'website_domain'],
  opportunity: ['account_key', 'campaign_key', 'stage', 'is_closed', 'is_won', 'amount', 'expected_close_date'],
  person: ['account_key', 'work_email', 'person_type', 'converted_contact_key'],
  'account-person': ['is_active', 'is_primary'],
  'opportunity-person': ['person_role'],
  campaign: ['parent_campaign_key'],
  'campaign-member': ['member_status'],
  'marketing-list': ['list_name'],
  'marketing-list-member': [],
  'experience-event': [],
};

const expectedTables: Record<XdmClassName, [table: string, keyPath: string, primaryKey: string]> = {
  account: ['xdm_account', 'accountKey', '001A'],
  opportunity: ['xdm_opportunity', 'opportunityKey', '006A'],
  person: ['xdm_person', 'b2b.personKey', '00QA'],
  'account-person': ['xdm_account_person', 'accountPersonKey', '07kA'],
  'opportunity-person': ['xdm_opportunity_person', 'opportunityPersonKey', '00KA'],
  campaign: ['xdm_campaign', 'campaignKey', '701B'],
  'campaign-member': ['xdm_campaign_member', 'campaignMemberKey', '00vA'],
  'marketing-list': ['xdm_marketing_list', 'marketingListKey', 'L1'],
  'marketing-list-member': ['xdm_marketing_list_member', 'marketingListMemberKey', 'LM1'],
  'experience-event': ['xdm_experience_event', '_id', '003A'],
};

/** A few paths per class and the leaf kind each must report; undefined for non-leaves. */
const expectedLeafKinds: Record<XdmClassName, Array<[string, LeafKind | undefined]>> = {
  account: [
    ['accountKey.sourceKey', 'string'],
    ['accountParentKey.sourceID', 'string'],
    ['accountOrganization.numberOfEmployees', 'integer'],
    ['accountOrganization.annualRevenue.amount', 'number'],
    ['accountOrganization.DUNSNumber', 'string'],
    ['accountBillingAddress._schema.latitude', 'number'],
    ['relatedAccounts', 'string-array'],
    ['isDeleted', 'boolean'],
    ['accountKey', undefined],
    ['accountOrganization', undefined],
    ['relatedAccountKeys', undefined],
    ['relatedAccountKeys.sourceKey', undefined],
    ['accountNme', undefined],
    ['accountName.length', undefined],
    ['_acme.tier', undefined],
  ],
  opportunity: [
    ['fiscalYear', 'integer'],
    ['probabilityPercentage', 'number'],
    ['isWon', 'boolean'],
    ['expectedCloseDate', 'string'],
    ['campaignKey.sourceKey', 'string'],
    ['opportunityAmount', undefined],
  ],
  person: [
    ['b2b.personKey.sourceKey', 'string'],
    ['b2b.personScore', 'number'],
    ['b2b.isConverted', 'boolean'],
    ['workEmail.address', 'string'],
    ['person.gender', 'string'],
    ['person.birthYear', 'integer'],
    ['organizations', 'string-array'],
    ['extendedWorkDetails.departments', 'string-array'],
    ['extSourceSystemAudit.lastUpdatedDate', 'string'],
    ['consents.marketing.email.val', 'string'],
    ['b2b', undefined],
    ['identityMap.Email', undefined],
    ['personComponents', undefined],
    ['', undefined],
    ['b2b..personKey', undefined],
  ],
  'account-person': [
    ['personRoles', 'string-array'],
    ['matchedAccount.matchingScore', 'number'],
    ['isActive', 'boolean'],
    ['personKey.sourceInstanceID', 'string'],
  ],
  'opportunity-person': [
    ['personRole', 'string'],
    ['isPrimary', 'boolean'],
    ['personRoles', undefined],
  ],
  campaign: [
    ['actualCost.amount', 'number'],
    ['actualCost.currencyCode', 'string'],
    ['campaignStartDate', 'string'],
    ['isActive', 'boolean'],
  ],
  'campaign-member': [
    ['b2b.personType', 'string'],
    ['hasReachedSuccess', 'boolean'],
    ['acquiredByCampaignKey.sourceKey', 'string'],
  ],
  'marketing-list': [
    ['marketingListName', 'string'],
    ['marketingListKey.sourceType', 'string'],
  ],
  'marketing-list-member': [
    ['personKey.sourceKey', 'string'],
    ['personID', 'string'],
  ],
  'experience-event': [
    ['_id', 'string'],
    ['timestamp', 'string'],
    ['eventType', 'string'],
    ['personKey.sourceKey', 'string'],
    ['web.webPageDetails.URL', 'string'],
    ['web.webPageDetails.pageViews.value', 'number'],
    ['opportunityEvent.isPrimary', 'boolean'],
    ['leadOperation.campaignProgression.campaignKey.sourceKey', 'string'],
    ['leadOperation.changeScore.newValue', undefined],
    ['isDeleted', undefined],
  ],
};

function parseSample(name: XdmClassName): any {
  const result = XDM_CLASSES[name].schema.safeParse(samples[name]);
  if (!result.success) assert.fail(`${name} sample rejected: ${JSON.stringify(result.error.issues)}`);
  return result.data;
}

describe('XDM_CLASSES', () => {
  test('has one spec per class name, under its own name', () => {
    assert.deepEqual(Object.keys(XDM_CLASSES).sort(), [...XDM_CLASS_NAMES].sort());
    for (const name of XDM_CLASS_NAMES) assert.equal(XDM_CLASSES[name].name, name);
  });

  test('findXdmClass finds known classes only', () => {
    assert.equal(findXdmClass('account-person'), XDM_CLASSES['account-person']);
    assert.equal(findXdmClass('accounts'), undefined);
    assert.equal(findXdmClass('toString'), undefined);
  });

  test('every schema compiles to the fast path', () => {
    for (const spec of Object.values(XDM_CLASSES)) {
      assert.doesNotThrow(() => z.compile(spec.schema, { strict: true }), spec.name);
    }
  });
});

for (const name of XDM_CLASS_NAMES) {
  describe(name, () => {
    const spec = XDM_CLASSES[name];
    const [table, keyPath, primaryID] = expectedTables[name];

    test('has its canonical table and key path', () => {
      assert.equal(spec.table, table);
      assert.equal(spec.keyPath, keyPath);
      assert.match(spec.title, /^XDM /);
    });

    test('extracts exactly the expected columns, each with a comment', () => {
      const record = parseSample(name);
      const actual = spec.columns.map((c) => [c.column, c.type, c.extract(record)]);
      assert.deepEqual(actual, expectedColumns[name]);
      for (const column of spec.columns) assert.ok(column.comment.length > 10, column.column);
    });

    test('optional columns read null when their fields are absent', () => {
      const minimal = spec.schema.parse(minimalRecords[name]);
      const nulls = spec.columns.filter((c) => c.extract(minimal) === null).map((c) => c.column);
      assert.deepEqual(nulls, nullWhenMinimal[name]);
    });

    test('reads the record key, external key, update time and delete flag', () => {
      const record = parseSample(name);
      const key = spec.recordKey(record);
      if (name === 'experience-event') {
        assert.deepEqual(key, { key: 'act-1', sourceType: 'Salesforce', sourceInstanceID: ORG, sourceID: primaryID });
        assert.equal(spec.externalKey(record), null);
        assert.deepEqual(spec.lastUpdated(record), new Date('2024-04-02T08:00:00Z'));
        assert.equal(spec.isDeleted(record), false);
      } else {
        assert.deepEqual(key, {
          key: `${primaryID}@${ORG}.Salesforce`,
          sourceType: 'Salesforce',
          sourceInstanceID: ORG,
          sourceID: primaryID,
        });
        assert.equal(spec.externalKey(record), '1234567.mkto_org@123-ABC-456.Marketo');
        assert.deepEqual(spec.lastUpdated(record), new Date('2024-03-04T04:06:07.123Z'));
        assert.equal(spec.isDeleted(record), name === 'account');
        const minimal = spec.schema.parse(minimalRecords[name]);
        assert.equal(spec.externalKey(minimal), null);
        assert.equal(spec.lastUpdated(minimal), null);
      }
    });

    test('knows the kind of its leaf fields, and nothing else', () => {
      for (const [path, kind] of expectedLeafKinds[name]) assert.equal(spec.leafKind(path), kind, path);
    });
  });
}

describe('leafKindAt', () => {
  test('sees through wrappers, records, unions, lazy schemas and transforms', () => {
    const schema = z.object({
      when: z.union([z.iso.date(), z.iso.datetime()]).optional(),
      mixed: z.union([z.string(), z.number()]),
      count: z.int().default(0),
      ratio: z.number().nullable().catch(null),
      tags: z.array(z.string().min(1)).readonly(),
      level: z.enum(['low', 'high']),
      scores: z.record(z.string(), z.number()),
      nested: z.lazy(() => z.object({ flag: z.boolean() })),
      trimmed: z.object({ value: z.string() }).transform((o) => o.value.trim()),
    });
    const kinds = Object.fromEntries(
      ['when', 'mixed', 'count', 'ratio', 'tags', 'level', 'scores.any', 'nested.flag', 'trimmed.value', 'trimmed'].map(
        (path) => [path, leafKindAt(schema, path)],
      ),
    );
    assert.deepEqual(kinds, {
      when: 'string',
      mixed: undefined,
      count: 'integer',
      ratio: 'number',
      tags: 'string-array',
      level: 'string',
      'scores.any': 'number',
      'nested.flag': 'boolean',
      'trimmed.value': 'string',
      trimmed: undefined,
    });
  });
});

describe('website_domain column values (canonicalWebDomain)', () => {
  const cases: Array<[unknown, string | null]> = [
    ['acme.com', 'acme.com'],
    ['WWW.Acme.com', 'acme.com'],
    ['https://www.acme.co.uk/about?x=1', 'acme.co.uk'],
    ['http://shop.acme.com:8080', 'shop.acme.com'],
    ['  acme.com/path ', 'acme.com'],
    ['wwwacme.com', 'wwwacme.com'],
    ['', null],
    ['   ', null],
    ['http://', null],
    [null, null],
    [42, null],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normaliseWebDomain(input), expected);
    });
  }

  test('the account column falls back from domain to website', () => {
    const column = XDM_CLASSES.account.columns.find((c) => c.column === 'website_domain')!;
    const withDomain = XDM_CLASSES.account.schema.parse({
      accountKey: sfdc('001A'),
      accountOrganization: { domain: 'www.Acme.io', website: 'https://other.com' },
    });
    assert.equal(column.extract(withDomain), 'acme.io');
  });
});
