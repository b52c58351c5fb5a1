/**
 * Reusable zod pieces of Adobe's XDM: the B2B Source key, audit attributes, dates, and the
 * standard data types (currency, postal address, phone, email, person name, consents,
 * identity map) that the B2B classes in classes.ts are assembled from.
 *
 * Conventions, following how Adobe's ingestion treats XDM JSON:
 * - Objects are strict: an unknown key is an issue that names the key. The only exception is the
 *   top level of a class, where tenant field groups (`_acme: {...}`) are kept as they are
 *   (see {@link xdmClassSchema}), and the activity sub-objects of experience events.
 * - An optional field may be absent or `null` ({@link opt}); Adobe's data prep writes null for
 *   a missing value (`iif(x != null && x != "", to_object(...), null)`).
 * - Dates stay strings. Instants (audit times, event timestamps, consent times) must be ISO 8601
 *   date-times with an offset or `Z`; business dates (close dates, start dates, birth dates) may
 *   also be plain `YYYY-MM-DD`, since CRMs hold many of them as dates.
 */
import { z } from 'zod';
import type { B2BSource } from './class-spec';
import { findSourceKeyPartProblem, parseSourceKey, type SourceKeyParts } from './source-key';

/** An optional XDM field: absent, `null`, or a valid value. */
export function opt<T extends z.ZodType>(schema: T) {
  return schema.nullish();
}

/* ----------------------------------------------------------------------------------------- */
/* Scalars                                                                                     */
/* ----------------------------------------------------------------------------------------- */

/** A string that is not empty or whitespace only (ids, event types). */
export const nonBlankString = z.string().regex(/\S/, 'must not be blank');

/** ISO 8601 date-time with a UTC offset or `Z`, e.g. `2024-05-01T12:00:00.000+02:00`. Kept as a string. */
export const dateTimeSchema = z.iso
  .datetime({
    offset: true,
    error: 'expected an ISO 8601 date-time with offset, e.g. 2024-05-01T12:00:00Z',
  })
  // Postgres timestamps start at year 1; an offset can push 0001-01-01 into year 0.
  .refine(inStorableYears, 'the date-time must fall between the years 1 and 9999 (UTC)');

function inStorableYears(value: string): boolean {
  const year = new Date(value).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

const ISO_DATE = z.regexes.date;
const ISO_DATE_TIME = z.regexes.datetime({ offset: true });

/** ISO 8601 date `YYYY-MM-DD`, or a full date-time as in {@link dateTimeSchema}. Kept as a string. */
export const dateSchema = z.stringFormat(
  'date-or-date-time',
  (value) => ISO_DATE.test(value) || ISO_DATE_TIME.test(value),
  { error: 'expected an ISO 8601 date (YYYY-MM-DD) or date-time with offset' },
);

/** ISO 4217 currency code: three uppercase letters. */
export const currencyCodeSchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code (3 uppercase letters)');

/** ISO 3166-1 alpha-2 country code: two uppercase letters. */
export const countryCodeSchema = z
  .string()
  .regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 country code (2 uppercase letters)');

/**
 * An email address in the loosest useful sense: something@something, no inner whitespace.
 * Surrounding whitespace is tolerated (CRMs keep it); consumers trim and lowercase.
 */
export const emailAddressSchema = z.email({
  pattern: /^\s*[^\s@]+@[^\s@]+\s*$/,
  error: 'expected an email address (name@domain)',
});

/* ----------------------------------------------------------------------------------------- */
/* B2B Source                                                                                  */
/* ----------------------------------------------------------------------------------------- */

const SOURCE_KEY_SHAPE = '{sourceID}@{sourceInstanceID}.{sourceType}';

/**
 * Adobe's "B2B Source" data type. Accepts only `sourceKey`, only the three parts, or all four
 * (which must agree); the output always carries all four, so storage and identity code can rely
 * on every part being present.
 */
export const b2bSourceSchema = z
  .strictObject({
    sourceType: opt(z.string()),
    sourceInstanceID: opt(z.string()),
    sourceID: opt(z.string()),
    sourceKey: opt(z.string()),
  })
  .transform((input, ctx): B2BSource => {
    const { sourceKey, sourceType, sourceInstanceID, sourceID } = input;
    const hasParts = sourceType != null && sourceInstanceID != null && sourceID != null;
    if (hasParts) {
      const parts: SourceKeyParts = { sourceType, sourceInstanceID, sourceID };
      const problem = findSourceKeyPartProblem(parts);
      if (problem) {
        ctx.addIssue({ code: 'custom', path: [problem.part], message: problem.message, input });
        return z.NEVER;
      }
      const built = `${sourceID}@${sourceInstanceID}.${sourceType}`;
      if (sourceKey == null || sourceKey === built) {
        return { sourceType, sourceInstanceID, sourceID, sourceKey: built };
      }
      ctx.addIssue({
        code: 'custom',
        path: ['sourceKey'],
        message: `sourceKey '${sourceKey}' does not match sourceID@sourceInstanceID.sourceType ('${built}')`,
        input,
      });
      return z.NEVER;
    }
    if (sourceKey != null && sourceType == null && sourceInstanceID == null && sourceID == null) {
      const parsed = parseSourceKey(sourceKey);
      if (parsed) return parsed;
      ctx.addIssue({
        code: 'custom',
        path: ['sourceKey'],
        message: `sourceKey '${sourceKey}' is not of the form ${SOURCE_KEY_SHAPE}`,
        input,
      });
      return z.NEVER;
    }
    ctx.addIssue({ code: 'custom', message: incompleteSourceMessage(input), input });
    return z.NEVER;
  });

function incompleteSourceMessage(input: Partial<Record<keyof B2BSource, unknown>>): string {
  const missing = (['sourceType', 'sourceInstanceID', 'sourceID'] as const).filter((p) => input[p] == null);
  return (
    'a B2B source needs sourceKey alone, or sourceType, sourceInstanceID and sourceID (optionally with ' +
    `a matching sourceKey); missing: ${missing.join(', ')}`
  );
}

/* ----------------------------------------------------------------------------------------- */
/* Standard data types                                                                         */
/* ----------------------------------------------------------------------------------------- */

/**
 * External Source System Audit Attributes (`extSourceSystemAudit`), on every B2B class.
 * `externalKey` is the record's key in a *connected* system (e.g. the Salesforce account a Marketo
 * company syncs with); Adobe makes it a secondary identity so the two records merge.
 */
export const extSourceSystemAuditSchema = z.strictObject({
  externalKey: opt(b2bSourceSchema),
  externalID: opt(z.string()),
  createdBy: opt(z.string()),
  createdDate: opt(dateTimeSchema),
  lastUpdatedBy: opt(z.string()),
  lastUpdatedDate: opt(dateTimeSchema),
  /** A date in Salesforce (LastActivityDate), so a plain date is accepted. */
  lastActivityDate: opt(dateSchema),
  lastReferencedDate: opt(dateTimeSchema),
  lastViewedDate: opt(dateTimeSchema),
});

/**
 * Currency data type: an amount and, when known, its ISO 4217 code (Marketo opportunities and
 * programs carry amounts without one).
 */
export const currencySchema = z.strictObject({
  amount: z.number(),
  currencyCode: opt(currencyCodeSchema),
});

/** schema.org GeoCoordinates, which Adobe nests under `_schema` (e.g. `workAddress._schema.latitude`). */
const geoCoordinatesSchema = z.strictObject({
  latitude: opt(z.number().min(-90).max(90)),
  longitude: opt(z.number().min(-180).max(180)),
  elevation: opt(z.number()),
  description: opt(z.string()),
});

/**
 * Postal address data type. Coordinates are accepted both where Adobe's source mappings put them
 * (`_schema.latitude`) and flat on the address (`latitude`).
 */
export const addressSchema = z.strictObject({
  primary: opt(z.boolean()),
  label: opt(z.string()),
  street1: opt(z.string()),
  street2: opt(z.string()),
  street3: opt(z.string()),
  street4: opt(z.string()),
  postOfficeBox: opt(z.string().max(20)),
  city: opt(z.string()),
  postalCode: opt(z.string()),
  region: opt(z.string()),
  /** Free-form state name, e.g. "California". */
  state: opt(z.string()),
  /** ISO 3166-2 subdivision, e.g. "US-CA". */
  stateProvince: opt(z.string()),
  country: opt(z.string()),
  countryCode: opt(countryCodeSchema),
  dmaID: opt(z.int()),
  msaID: opt(z.int()),
  latitude: opt(z.number().min(-90).max(90)),
  longitude: opt(z.number().min(-180).max(180)),
  _schema: opt(geoCoordinatesSchema),
  status: opt(z.string()),
  statusReason: opt(z.string()),
  lastVerifiedDate: opt(dateSchema),
});

/** Phone number data type. `number` is free text: "+1 (555) 010-0000 x12" is valid. */
export const phoneSchema = z.strictObject({
  number: z.string(),
  primary: opt(z.boolean()),
  /** E.164 country calling code, 1 to 3 digits. */
  countryCode: opt(z.string().regex(/^[0-9]{1,3}$/, 'expected a country calling code of 1 to 3 digits')),
  extension: opt(z.string()),
  status: opt(z.string()),
  statusReason: opt(z.string()),
  validity: opt(z.string()),
});

/** Email address data type. */
export const emailSchema = z.strictObject({
  address: emailAddressSchema,
  primary: opt(z.boolean()),
  label: opt(z.string()),
  /** e.g. work, personal, education, unknown. */
  type: opt(z.string()),
  status: opt(z.string()),
  statusReason: opt(z.string()),
});

/** Person name data type. */
export const personNameSchema = z.strictObject({
  firstName: opt(z.string()),
  middleName: opt(z.string()),
  lastName: opt(z.string()),
  fullName: opt(z.string()),
  courtesyTitle: opt(z.string()),
  suffix: opt(z.string()),
});

/** Person data type (the profile's `person` field). */
export const personAttributesSchema = z.strictObject({
  name: opt(personNameSchema),
  birthDate: opt(dateSchema),
  /** MM-DD, when the year is unknown. */
  birthDayAndMonth: opt(z.string().regex(/^[0-1][0-9]-[0-3][0-9]$/, 'expected MM-DD')),
  birthYear: opt(z.int().min(1).max(32767)),
  gender: opt(z.enum(['male', 'female', 'not_specified', 'non_specific'])),
  maritalStatus: opt(z.enum(['married', 'single', 'divorced', 'widowed', 'not_specified'])),
  /** ISO 3166-1 alpha-2. */
  nationality: opt(countryCodeSchema),
  taxId: opt(z.string()),
});

/**
 * Identity map: namespace code (ECID, Email, ...) to the identities the record holds in it.
 * Used on profiles and events to carry identities that have no dedicated field.
 */
export const identityMapSchema = z.record(
  z.string(),
  z.array(
    z.strictObject({
      id: nonBlankString,
      primary: opt(z.boolean()),
      authenticatedState: opt(z.enum(['ambiguous', 'authenticated', 'loggedOut'])),
    }),
  ),
);

/* ----------------------------------------------------------------------------------------- */
/* Consents and Preferences                                                                    */
/* ----------------------------------------------------------------------------------------- */

/**
 * A consent or preference choice: y/n (opt in/out), p (pending verification), u (unknown),
 * dy/dn (default yes/no), or a lawful basis that makes consent unnecessary: LI (legitimate
 * interest), CT (contract), CP (legal obligation), VI (vital interest), PI (public interest).
 */
export const consentValueSchema = z.enum(['y', 'n', 'p', 'u', 'dy', 'dn', 'LI', 'CT', 'CP', 'VI', 'PI']);

const consentFieldSchema = z.strictObject({ val: consentValueSchema });

/** Advertiser-id consent also names the id type (IDFA, GAID). */
const adIdConsentSchema = z.strictObject({ val: consentValueSchema, idType: opt(z.string()) });

/** Opt-in state for one marketing channel, with when and why it was last set. */
const marketingPreferenceSchema = z.strictObject({
  val: consentValueSchema,
  time: opt(dateTimeSchema),
  reason: opt(z.string()),
});

/** Per-subscription (newsletter, list) preferences, keyed by subscription name. */
const subscriptionsSchema = z.record(
  z.string(),
  z.strictObject({
    val: opt(consentValueSchema),
    type: opt(z.string()),
    subscribers: opt(
      z.record(z.string(), z.strictObject({ time: opt(dateTimeSchema), source: opt(z.string()) })),
    ),
  }),
);

const marketingPreferenceWithSubscriptionsSchema = marketingPreferenceSchema.extend({
  subscriptions: opt(subscriptionsSchema),
});

const personalizeSchema = z.strictObject({ content: opt(consentFieldSchema) });

/** Consents that can be given per identity (one email address, one phone number). */
const idSpecificConsentSchema = z.strictObject({
  collect: opt(consentFieldSchema),
  share: opt(consentFieldSchema),
  adID: opt(adIdConsentSchema),
  personalize: opt(personalizeSchema),
  marketing: opt(
    z.strictObject({
      email: opt(marketingPreferenceSchema),
      push: opt(marketingPreferenceSchema),
      sms: opt(marketingPreferenceSchema),
      call: opt(marketingPreferenceSchema),
    }),
  ),
});

/**
 * Adobe's Consents and Preferences field group (`consents`): data collection and sharing,
 * personalisation, per-channel marketing preferences, and identity-specific overrides
 * (`idSpecific.{namespace}.{id}`). Marketo maps "unsubscribed" to `marketing.email.val = 'n'`.
 */
export const consentsSchema = z.strictObject({
  collect: opt(consentFieldSchema),
  share: opt(consentFieldSchema),
  adID: opt(adIdConsentSchema),
  personalize: opt(personalizeSchema),
  marketing: opt(
    z.strictObject({
      preferred: opt(
        z.enum([
          'email', 'push', 'inApp', 'sms', 'phone', 'phyMail', 'inVehicle', 'inHome', 'iot', 'social',
          'other', 'none', 'unknown',
        ]),
      ),
      any: opt(marketingPreferenceSchema),
      email: opt(marketingPreferenceWithSubscriptionsSchema),
      push: opt(marketingPreferenceWithSubscriptionsSchema),
      sms: opt(marketingPreferenceWithSubscriptionsSchema),
      call: opt(marketingPreferenceWithSubscriptionsSchema),
      phone: opt(marketingPreferenceWithSubscriptionsSchema),
      fax: opt(marketingPreferenceWithSubscriptionsSchema),
      postalMail: opt(marketingPreferenceWithSubscriptionsSchema),
      commercialEmail: opt(marketingPreferenceWithSubscriptionsSchema),
    }),
  ),
  idSpecific: opt(z.record(z.string(), z.record(z.string(), idSpecificConsentSchema))),
  metadata: opt(z.strictObject({ time: opt(dateTimeSchema) })),
});

/* ----------------------------------------------------------------------------------------- */
/* Class wrapper                                                                               */
/* ----------------------------------------------------------------------------------------- */

export interface XdmClassSchemaOptions<Shape extends z.ZodRawShape> {
  /** Adobe's class title, used in messages, e.g. "XDM Business Account". */
  title: string;
  shape: Shape;
  /** Top-level keys that are refused with a specific explanation instead of "unknown field". */
  refusedFields?: Readonly<Record<string, string>>;
}

/** A tenant namespace key, Adobe's `_{tenantId}` (e.g. `_acme`); `__proto__` and the like are not. */
const TENANT_KEY = /^_[A-Za-z0-9]/;

/**
 * The schema of one XDM class: `shape` is validated strictly, except that keys starting with `_`
 * holding objects are tenant field groups (Adobe's `_{tenantId}` namespace for custom fields)
 * and are kept as they are. Unknown keys are reported together with the field issues, in one pass.
 */
export function xdmClassSchema<Shape extends z.ZodRawShape>(options: XdmClassSchemaOptions<Shape>) {
  const { title, shape, refusedFields = {} } = options;
  const declared = new Set(Object.keys(shape));
  const refusals = new Map(Object.entries(refusedFields));
  const topLevelKeys = z.unknown().check((payload) => {
    const record = payload.value;
    if (!isPlainObject(record)) return; // the object schema reports the wrong type
    const unknown: string[] = [];
    for (const key in record) {
      if (declared.has(key)) continue;
      const refusal = refusals.get(key);
      if (refusal !== undefined) {
        // unrecognized_keys lets the pipe go on to validate the fields, so all issues come at once
        payload.issues.push({ code: 'unrecognized_keys', keys: [key], message: refusal, input: record });
      } else if (!TENANT_KEY.test(key)) {
        unknown.push(key);
      } else if (!isPlainObject(record[key])) {
        payload.issues.push({
          code: 'custom',
          path: [key],
          message: `tenant field group '${key}' must be an object`,
          input: record[key],
        });
      }
    }
    if (unknown.length > 0) {
      payload.issues.push({
        code: 'unrecognized_keys',
        keys: unknown,
        message:
          `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} ` +
          `(not in ${title}; custom fields belong in a tenant field group such as '_acme')`,
        input: record,
      });
    }
  });
  return z.pipe(topLevelKeys, z.looseObject(shape));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
