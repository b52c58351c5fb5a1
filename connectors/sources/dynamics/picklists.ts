/**
 * Dataverse choice (picklist) columns come back as integers. These are the out-of-the-box option
 * values of the columns the connector reads (Dataverse table reference). Decoding prefers this
 * table (language-independent), then the server's FormattedValue annotation (localised, but it
 * knows an org's custom options), and otherwise keeps the code as a string: an unknown code never
 * fails a record.
 */
export type Picklist = Readonly<Record<number, string>>;

export const PICKLISTS = {
  /** account.industrycode */
  industrycode: {
    1: 'Accounting', 2: 'Agriculture and Non-petrol Natural Resource Extraction', 3: 'Broadcasting Printing and Publishing', 4: 'Brokers',
    5: 'Building Supply Retail', 6: 'Business Services', 7: 'Consulting', 8: 'Consumer Services', 9: 'Design, Direction and Creative Management',
    10: 'Distributors, Dispatchers and Processors', 11: "Doctor's Offices and Clinics", 12: 'Durable Manufacturing', 13: 'Eating and Drinking Places',
    14: 'Entertainment Retail', 15: 'Equipment Rental and Leasing', 16: 'Financial', 17: 'Food and Tobacco Processing',
    18: 'Inbound Capital Intensive Processing', 19: 'Inbound Repair and Services', 20: 'Insurance', 21: 'Legal Services',
    22: 'Non-Durable Merchandise Retail', 23: 'Outbound Consumer Service', 24: 'Petrochemical Extraction and Distribution', 25: 'Service Retail',
    26: 'SIG Affiliations', 27: 'Social Services', 28: 'Special Outbound Trade Contractors', 29: 'Specialty Realty', 30: 'Transportation',
    31: 'Utility Creation and Distribution', 32: 'Vehicle Retail', 33: 'Wholesale',
  },
  /** account.accountcategorycode */
  accountcategorycode: { 1: 'Preferred Customer', 2: 'Standard' },
  /** account.ownershipcode */
  ownershipcode: { 1: 'Public', 2: 'Private', 3: 'Subsidiary', 4: 'Other' },
  /** account / contact statecode */
  activeStatecode: { 0: 'Active', 1: 'Inactive' },
  /** lead.statecode */
  leadStatecode: { 0: 'Open', 1: 'Qualified', 2: 'Disqualified' },
  /** lead.statuscode */
  leadStatuscode: { 1: 'New', 2: 'Contacted', 3: 'Qualified', 4: 'Lost', 5: 'Cannot Contact', 6: 'No Longer Interested', 7: 'Canceled' },
  /** lead.leadsourcecode */
  leadsourcecode: {
    1: 'Advertisement', 2: 'Employee Referral', 3: 'External Referral', 4: 'Partner', 5: 'Public Relations', 6: 'Seminar', 7: 'Trade Show',
    8: 'Web', 9: 'Word of Mouth', 10: 'Other',
  },
  /** lead.leadqualitycode */
  leadqualitycode: { 1: 'Hot', 2: 'Warm', 3: 'Cold' },
  /** opportunity.statecode */
  opportunityStatecode: { 0: 'Open', 1: 'Won', 2: 'Lost' },
  /** opportunity.statuscode */
  opportunityStatuscode: { 1: 'In Progress', 2: 'On Hold', 3: 'Won', 4: 'Canceled', 5: 'Out-Sold' },
  /** opportunity.salesstage */
  salesstage: { 0: 'Qualify', 1: 'Develop', 2: 'Propose', 3: 'Close' },
  /** opportunity.msdyn_forecastcategory */
  forecastcategory: { 100000001: 'Pipeline', 100000002: 'Best case', 100000003: 'Committed', 100000004: 'Omitted', 100000005: 'Won', 100000006: 'Lost' },
  /** campaign.typecode */
  campaignTypecode: { 1: 'Advertisement', 2: 'Direct Marketing', 3: 'Event', 4: 'Co-branding', 5: 'Other' },
  /** campaign.statuscode */
  campaignStatuscode: { 0: 'Proposed', 1: 'Ready To Launch', 2: 'Launched', 3: 'Completed', 4: 'Canceled', 5: 'Suspended', 6: 'Inactive' },
  /** list.createdfromcode: the member type of a marketing list */
  listCreatedfromcode: { 1: 'Account', 2: 'Contact', 4: 'Lead' },
} as const satisfies Record<string, Picklist>;

const FORMATTED = '@OData.Community.Display.V1.FormattedValue';

/**
 * The label of choice column `column` of `row`: the table's label, else the FormattedValue
 * annotation, else the code itself; null when the column is null or absent.
 */
export function decodePicklist(table: Picklist, row: Record<string, unknown>, column: string): string | null {
  const code = row[column];
  if (code === null || code === undefined) return null;
  if (typeof code === 'number') {
    const label = table[code];
    if (label !== undefined) return label;
  }
  const formatted = row[column + FORMATTED];
  if (typeof formatted === 'string' && formatted !== '') return formatted;
  return String(code);
}
