/**
 * zod schemas of the XDM classes Tessera stores, with Adobe's field names
 * (shared/reference/b2b-model.md §1.3 and the adobe/xdm schema repository).
 *
 * Every B2B class is an XDM "record" class: time-independent and upserted by its primary key, a
 * B2B Source object (`accountKey`, `b2b.personKey`, ...). Each carries `_id` (system record id),
 * `extSourceSystemAudit` and `isDeleted` (the source's soft-delete flag). References to other
 * records are B2B Source objects too (`accountKey` on an opportunity), usually next to the
 * native id (`accountID`), which is informational.
 *
 * The schemas are AOT-compiled with `z.compile` once at module load: valid records take a
 * generated fast path, invalid ones fall back to the regular parser, so issues are unchanged.
 */
import { z } from 'zod';
import {
  addressSchema,
  b2bSourceSchema,
  consentsSchema,
  currencyCodeSchema,
  currencySchema,
  dateSchema,
  dateTimeSchema,
  emailSchema,
  extSourceSystemAuditSchema,
  identityMapSchema,
  nonBlankString,
  opt,
  personAttributesSchema,
  personNameSchema,
  phoneSchema,
  xdmClassSchema,
} from './common';

/** Fields every B2B record class carries. */
const recordFields = {
  _id: opt(z.string()),
  extSourceSystemAudit: opt(extSourceSystemAuditSchema),
  isDeleted: opt(z.boolean()),
};

/* ----------------------------------------------------------------------------------------- */
/* Account                                                                                     */
/* ----------------------------------------------------------------------------------------- */

/** Account Details data type (`accountOrganization`): firmographics. */
const accountOrganizationSchema = z.strictObject({
  organizationType: opt(z.string()),
  numberOfEmployees: opt(z.int().min(0)),
  annualRevenue: opt(currencySchema),
  industry: opt(z.string()),
  website: opt(z.string()),
  domain: opt(z.string()),
  marketSegment: opt(z.string()),
  /** 0 (lowest) to 1 (highest). */
  rating: opt(z.number().min(0).max(1)),
  tickerSymbol: opt(z.string()),
  logoUrl: opt(z.string()),
  linkedinPageUrl: opt(z.string()),
  twitterHandleUrl: opt(z.string()),
  facebookPageUrl: opt(z.string()),
  NAICSCode: opt(z.string()),
  NAICSDescription: opt(z.string()),
  SICCode: opt(z.string()),
  SICDescription: opt(z.string()),
  /** Dun & Bradstreet D-U-N-S number: nine digits, kept as a string (leading zeros matter). */
  DUNSNumber: opt(z.string().regex(/^[0-9]{9}$/, 'expected a D-U-N-S number of 9 digits')),
  /** Data.com key. */
  jigsaw: opt(z.string()),
  primaryEmailDomain: opt(z.string()),
  companyProductAndServices: opt(z.string()),
});

/**
 * XDM Business Account with the Business Account Details and Related Business Accounts field
 * groups. `accountParentKey` links the hierarchy; `relatedAccountKeys` is written by the
 * related-accounts job.
 */
const accountClass = xdmClassSchema({
  title: 'XDM Business Account',
  shape: {
    ...recordFields,
    accountKey: b2bSourceSchema,
    /** Native id of the account (older schema versions). */
    accountID: opt(z.string()),
    accountName: opt(z.string()),
    accountNumber: opt(z.string()),
    accountDescription: opt(z.string()),
    /** Location of this account: single location, headquarters, branch. */
    accountSite: opt(z.string()),
    accountType: opt(z.string()),
    accountSourceType: opt(z.string()),
    accountTerritoryID: opt(z.string()),
    accountScore: opt(z.number()),
    accountOwnerID: opt(z.string()),
    accountOwnership: opt(z.string()),
    /** "Doing business as" name. */
    accountTradeStyle: opt(z.string()),
    defaultCurrencyCode: opt(currencyCodeSchema),
    accountPhone: opt(phoneSchema),
    accountFax: opt(phoneSchema),
    accountBillingAddress: opt(addressSchema),
    accountShippingAddress: opt(addressSchema),
    accountPhysicalAddress: opt(addressSchema),
    partnerAccountID: opt(z.string()),
    accountParentID: opt(z.string()),
    accountParentKey: opt(b2bSourceSchema),
    accountOrganization: opt(accountOrganizationSchema),
    relatedAccounts: opt(z.array(z.string())),
    relatedAccountKeys: opt(z.array(b2bSourceSchema)),
  },
  refusedFields: {
    accountComponents: 'accountComponents is deprecated by Adobe and not modelled; send one account record per source',
  },
});

/* ----------------------------------------------------------------------------------------- */
/* Opportunity                                                                                 */
/* ----------------------------------------------------------------------------------------- */

/** XDM Business Opportunity with the Opportunity Details field group. */
const opportunityClass = xdmClassSchema({
  title: 'XDM Business Opportunity',
  shape: {
    ...recordFields,
    opportunityKey: b2bSourceSchema,
    opportunityID: opt(z.string()),
    opportunityName: opt(z.string()),
    opportunityDescription: opt(z.string()),
    opportunityType: opt(z.string()),
    opportunityStage: opt(z.string()),
    /** The owning account (many opportunities to one account). */
    accountKey: opt(b2bSourceSchema),
    accountID: opt(z.string()),
    /** The campaign the opportunity came from. */
    campaignKey: opt(b2bSourceSchema),
    campaignID: opt(z.string()),
    fiscalYear: opt(z.int().min(1000).max(9999)),
    /** 1-4 or Q1-Q4. */
    fiscalQuarter: opt(z.string().regex(/^[Qq]?[1-4]$/, 'expected a fiscal quarter 1-4 or Q1-Q4')),
    /** e.g. omitted, pipeline, bestcase, commit, closed. */
    forecastCategory: opt(z.string()),
    forecastCategoryName: opt(z.string()),
    isClosed: opt(z.boolean()),
    isWon: opt(z.boolean()),
    probabilityPercentage: opt(z.number().min(0).max(100)),
    opportunityAmount: opt(currencySchema),
    /** Amount weighted by probability. */
    expectedRevenue: opt(currencySchema),
    opportunityQuantity: opt(z.int().min(0)),
    expectedCloseDate: opt(dateSchema),
    actualCloseDate: opt(dateSchema),
    lastActivityDate: opt(dateSchema),
    leadSource: opt(z.string()),
    nextStep: opt(z.string()),
  },
});

/* ----------------------------------------------------------------------------------------- */
/* Person                                                                                      */
/* ----------------------------------------------------------------------------------------- */

/** XDM Business Person Details (`b2b`): the B2B side of an individual profile. */
const businessPersonDetailsSchema = z.strictObject({
  /** Primary identity of the person (B2B Person namespace). */
  personKey: b2bSourceSchema,
  /** The person's main account. */
  accountKey: opt(b2bSourceSchema),
  accountID: opt(z.string()),
  /** For a converted lead: the contact it became. */
  convertedContactKey: opt(b2bSourceSchema),
  convertedContactID: opt(z.string()),
  isConverted: opt(z.boolean()),
  convertedDate: opt(dateSchema),
  isBlocked: opt(z.boolean()),
  blockedCause: opt(z.string()),
  isMarketingSuspended: opt(z.boolean()),
  marketingSuspendedCause: opt(z.string()),
  personScore: opt(z.number()),
  personSource: opt(z.string()),
  personStatus: opt(z.string()),
  /** e.g. Lead or Contact. */
  personType: opt(z.string()),
  /** Marketo lead partition. */
  personGroupID: opt(z.string()),
  /** Company name and website as typed on a lead; inputs of lead-to-account matching. */
  companyName: opt(z.string()),
  companyWebsite: opt(z.string()),
});

/** Profile Other Work Details (`extendedWorkDetails`). */
const extendedWorkDetailsSchema = z.strictObject({
  jobTitle: opt(z.string()),
  departments: opt(z.array(z.string())),
  reportsToID: opt(z.string()),
  photoUrl: opt(z.string()),
  assistantDetails: opt(z.strictObject({ name: opt(personNameSchema), phone: opt(phoneSchema) })),
});

/**
 * XDM Individual Profile with the Business Person Details, work and personal contact details,
 * identity map and Consents field groups. `workEmail.address` is a secondary identity (Email).
 *
 * `personComponents` is refused: Adobe's platform assembles it from the individually ingested
 * source records, and ingesting a pre-built array is an error there too.
 */
const personClass = xdmClassSchema({
  title: 'XDM Individual Profile (B2B person)',
  shape: {
    ...recordFields,
    b2b: businessPersonDetailsSchema,
    extendedWorkDetails: opt(extendedWorkDetailsSchema),
    workEmail: opt(emailSchema),
    personalEmail: opt(emailSchema),
    workPhone: opt(phoneSchema),
    mobilePhone: opt(phoneSchema),
    homePhone: opt(phoneSchema),
    faxPhone: opt(phoneSchema),
    otherPhone: opt(phoneSchema),
    workAddress: opt(addressSchema),
    homeAddress: opt(addressSchema),
    otherAddress: opt(addressSchema),
    person: opt(personAttributesSchema),
    /** Names of the organisations the person belongs to. */
    organizations: opt(z.array(z.string())),
    identityMap: opt(identityMapSchema),
    consents: opt(consentsSchema),
  },
  refusedFields: {
    personComponents:
      'personComponents is assembled by the platform from the individually ingested person records ' +
      '(Adobe rejects a pre-built array); send one person record per source instead',
  },
});

/* ----------------------------------------------------------------------------------------- */
/* Relations                                                                                   */
/* ----------------------------------------------------------------------------------------- */

/**
 * XDM Business Account Person Relation: many-to-many between people and accounts, with the
 * person's roles on the account. Rows written by lead-to-account matching say so in
 * `relationshipSource` and carry `matchedAccount`.
 */
const accountPersonClass = xdmClassSchema({
  title: 'XDM Business Account Person Relation',
  shape: {
    ...recordFields,
    accountPersonKey: b2bSourceSchema,
    accountPersonID: opt(z.string()),
    accountKey: b2bSourceSchema,
    accountID: opt(z.string()),
    personKey: b2bSourceSchema,
    personID: opt(z.string()),
    personRoles: opt(z.array(z.string())),
    /** Older, single-valued form of personRoles. */
    personRole: opt(z.string()),
    isPrimary: opt(z.boolean()),
    isActive: opt(z.boolean()),
    isDirect: opt(z.boolean()),
    relationStartDate: opt(dateSchema),
    relationEndDate: opt(dateSchema),
    relationshipSource: opt(z.string()),
    currencyCode: opt(currencyCodeSchema),
    matchedAccount: opt(
      z.strictObject({ matchingScore: opt(z.number()), scoreCreatedDate: opt(dateSchema) }),
    ),
  },
});

/** XDM Business Opportunity Person Relation ("opportunity contact role"). */
const opportunityPersonClass = xdmClassSchema({
  title: 'XDM Business Opportunity Person Relation',
  shape: {
    ...recordFields,
    opportunityPersonKey: b2bSourceSchema,
    opportunityPersonID: opt(z.string()),
    opportunityKey: b2bSourceSchema,
    opportunityID: opt(z.string()),
    personKey: b2bSourceSchema,
    personID: opt(z.string()),
    /** e.g. "Decision Maker". */
    personRole: opt(z.string()),
    isPrimary: opt(z.boolean()),
  },
});

/* ----------------------------------------------------------------------------------------- */
/* Campaigns and lists                                                                         */
/* ----------------------------------------------------------------------------------------- */

/** XDM Business Campaign with Campaign Details: a Marketo program or a CRM campaign. */
const campaignClass = xdmClassSchema({
  title: 'XDM Business Campaign',
  shape: {
    ...recordFields,
    campaignKey: b2bSourceSchema,
    campaignID: opt(z.string()),
    campaignName: opt(z.string()),
    campaignDescription: opt(z.string()),
    campaignType: opt(z.string()),
    /** Campaign hierarchy. */
    parentCampaignKey: opt(b2bSourceSchema),
    parentCampaignID: opt(z.string()),
    campaignStatus: opt(z.string()),
    campaignProgressionName: opt(z.string()),
    channelName: opt(z.string()),
    integrationPartnerName: opt(z.string()),
    campaignStartDate: opt(dateSchema),
    campaignEndDate: opt(dateSchema),
    timeZone: opt(z.string()),
    timezoneName: opt(z.string()),
    timeZoneDelivery: opt(z.string()),
    webinarSessionName: opt(z.string()),
    webinarSessionDescription: opt(z.string()),
    webinarHistorySyncStatus: opt(z.string()),
    webinarHistorySyncDate: opt(dateSchema),
    isActive: opt(z.boolean()),
    lastActivityDate: opt(dateSchema),
    expectedResponse: opt(z.string()),
    expectedRevenue: opt(currencySchema),
    budgetedCost: opt(currencySchema),
    actualCost: opt(currencySchema),
  },
});

/** XDM Business Campaign Members with Campaign Member Details: program membership. */
const campaignMemberClass = xdmClassSchema({
  title: 'XDM Business Campaign Members',
  shape: {
    ...recordFields,
    campaignMemberKey: b2bSourceSchema,
    campaignMemberID: opt(z.string()),
    campaignKey: b2bSourceSchema,
    campaignID: opt(z.string()),
    personKey: b2bSourceSchema,
    personID: opt(z.string()),
    memberStatus: opt(z.string()),
    memberStatusReason: opt(z.string()),
    membershipDate: opt(dateSchema),
    nurtureTrackName: opt(z.string()),
    nurtureCadence: opt(z.string()),
    isExhausted: opt(z.boolean()),
    hasReachedSuccess: opt(z.boolean()),
    reachedSuccessDate: opt(dateSchema),
    /** The (child) campaign through which the person joined. */
    acquiredByCampaignKey: opt(b2bSourceSchema),
    acquiredByCampaignID: opt(z.string()),
    webinarRegistrationID: opt(z.string()),
    webinarConfirmationUrl: opt(z.string()),
    lastStatus: opt(z.string()),
    hasResponded: opt(z.boolean()),
    firstRespondedDate: opt(dateSchema),
    /** Lead or Contact, as the CRM recorded the member. */
    b2b: opt(z.strictObject({ personType: opt(z.string()) })),
  },
});

/** XDM Business Marketing List: a Marketo static list or a Dynamics marketing list. */
const marketingListClass = xdmClassSchema({
  title: 'XDM Business Marketing List',
  shape: {
    ...recordFields,
    marketingListKey: b2bSourceSchema,
    marketingListID: opt(z.string()),
    marketingListName: opt(z.string()),
    marketingListDescription: opt(z.string()),
  },
});

/** XDM Business Marketing List Members: a person's membership of a list. */
const marketingListMemberClass = xdmClassSchema({
  title: 'XDM Business Marketing List Members',
  shape: {
    ...recordFields,
    marketingListMemberKey: b2bSourceSchema,
    marketingListMemberID: opt(z.string()),
    marketingListKey: b2bSourceSchema,
    marketingListID: opt(z.string()),
    personKey: b2bSourceSchema,
    personID: opt(z.string()),
  },
});

/* ----------------------------------------------------------------------------------------- */
/* Experience event (B2B activity)                                                             */
/* ----------------------------------------------------------------------------------------- */

/*
 * The ~28 B2B activity field groups (Visit Web Page, New Lead, Email Opened, Add To List, ...)
 * all write into the handful of top-level objects below. Each object is loose: the fields
 * Tessera reads are typed (in particular the B2B Source references, which get normalised) and
 * any other field of the activity is kept as sent.
 */

const webSchema = z.looseObject({
  webPageDetails: opt(
    z.looseObject({
      URL: opt(z.string()),
      name: opt(z.string()),
      webPageID: opt(z.string()),
      queryParameters: opt(z.string()),
      isPersonalizedURL: opt(z.boolean()),
      pageViews: opt(z.looseObject({ value: opt(z.number()) })),
    }),
  ),
  webReferrer: opt(z.looseObject({ URL: opt(z.string()) })),
  /** Link Clicks. */
  webInteraction: opt(z.looseObject({ linkID: opt(z.string()), linkURL: opt(z.string()) })),
  /** Form Filled Out. */
  fillOutForm: opt(z.looseObject({ webFormID: opt(z.string()), webFormName: opt(z.string()) })),
});

/** Add To List / Remove From List. */
const listOperationsSchema = z.looseObject({
  listKey: opt(b2bSourceSchema),
  listID: opt(z.string()),
});

/** Add To / Remove From Opportunity, Opportunity Updated. */
const opportunityEventSchema = z.looseObject({
  opportunityKey: opt(b2bSourceSchema),
  opportunityID: opt(z.string()),
  isPrimary: opt(z.boolean()),
  role: opt(z.string()),
  dataValueChanges: opt(
    z.array(
      z.looseObject({
        attributeName: opt(z.string()),
        oldValue: opt(z.string()),
        newValue: opt(z.string()),
      }),
    ),
  ),
});

/** An activity sub-object whose fields are all kept as sent. */
const activityDetails = opt(z.looseObject({}));

/** An activity sub-object that references a campaign. */
const campaignActivity = opt(z.looseObject({ campaignKey: opt(b2bSourceSchema), campaignID: opt(z.string()) }));

/** Lead lifecycle activities: one sub-object per Marketo activity type. */
const leadOperationSchema = z.looseObject({
  newLead: activityDetails,
  convertLead: activityDetails,
  /** Score Changed. */
  changeScore: activityDetails,
  /** Status in Campaign Progression Changed. */
  campaignProgression: campaignActivity,
  interestingMoment: activityDetails,
  callWebhook: activityDetails,
  changeCampaignCadence: campaignActivity,
  changeEngagementCampaignCadence: campaignActivity,
  addToCampaign: campaignActivity,
  changeCampaignStream: campaignActivity,
  /** Revenue Stage Changed (Revenue Cycle Modeler). */
  changeRevenueStage: opt(
    z.looseObject({
      modelKey: opt(b2bSourceSchema),
      newStageKey: opt(b2bSourceSchema),
      previousStageKey: opt(b2bSourceSchema),
    }),
  ),
  mergeLeads: activityDetails,
});

/**
 * XDM ExperienceEvent carrying a B2B (Marketo-style) activity. Events are not records: `_id`
 * identifies the event, `timestamp` says when it happened, and `personKey` (the actor, B2B
 * Person namespace) is the primary identity.
 */
const experienceEventClass = xdmClassSchema({
  title: 'XDM ExperienceEvent (B2B activity)',
  shape: {
    _id: nonBlankString.max(256),
    timestamp: dateTimeSchema,
    /** e.g. web.webpagedetails.pageViews, directMarketing.emailOpened, leadOperation.newLead. */
    eventType: nonBlankString,
    /** self, system, salesRef or customerRep. */
    producedBy: opt(z.string()),
    personKey: b2bSourceSchema,
    personID: opt(z.string()),
    identityMap: opt(identityMapSchema),
    web: opt(webSchema),
    environment: opt(
      z.looseObject({
        ipV4: opt(z.string()),
        operatingSystem: opt(z.string()),
        browserDetails: opt(z.looseObject({ userAgent: opt(z.string()) })),
      }),
    ),
    device: opt(z.looseObject({ isMobileDevice: opt(z.boolean()), model: opt(z.string()) })),
    search: opt(z.looseObject({ keywords: opt(z.string()), searchEngine: opt(z.string()) })),
    marketing: opt(
      z.looseObject({
        trackingCode: opt(z.string()),
        campaignName: opt(z.string()),
        campaignGroup: opt(z.string()),
      }),
    ),
    /** Email Sent / Delivered / Opened / Clicked / Bounced / Unsubscribed. */
    directMarketing: opt(
      z.looseObject({
        mailingID: opt(z.string()),
        mailingName: opt(z.string()),
        testVariantID: opt(z.string()),
        testVariantName: opt(z.string()),
        linkURL: opt(z.string()),
      }),
    ),
    listOperations: opt(listOperationsSchema),
    opportunityEvent: opt(opportunityEventSchema),
    leadOperation: opt(leadOperationSchema),
  },
});

/* ----------------------------------------------------------------------------------------- */
/* Compiled schemas and types                                                                  */
/* ----------------------------------------------------------------------------------------- */

export const accountSchema = z.compile(accountClass);
export const opportunitySchema = z.compile(opportunityClass);
export const personSchema = z.compile(personClass);
export const accountPersonSchema = z.compile(accountPersonClass);
export const opportunityPersonSchema = z.compile(opportunityPersonClass);
export const campaignSchema = z.compile(campaignClass);
export const campaignMemberSchema = z.compile(campaignMemberClass);
export const marketingListSchema = z.compile(marketingListClass);
export const marketingListMemberSchema = z.compile(marketingListMemberClass);
export const experienceEventSchema = z.compile(experienceEventClass);

export type XdmAccount = z.output<typeof accountSchema>;
export type XdmOpportunity = z.output<typeof opportunitySchema>;
export type XdmPerson = z.output<typeof personSchema>;
export type XdmAccountPerson = z.output<typeof accountPersonSchema>;
export type XdmOpportunityPerson = z.output<typeof opportunityPersonSchema>;
export type XdmCampaign = z.output<typeof campaignSchema>;
export type XdmCampaignMember = z.output<typeof campaignMemberSchema>;
export type XdmMarketingList = z.output<typeof marketingListSchema>;
export type XdmMarketingListMember = z.output<typeof marketingListMemberSchema>;
export type XdmExperienceEvent = z.output<typeof experienceEventSchema>;
