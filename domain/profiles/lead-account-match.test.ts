import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bestAccountMatch, matchKeys, normaliseCompanyName, scoreAccountMatch, type AccountCandidate, type LeadEvidence } from './lead-account-match';

const lead = (over: Partial<LeadEvidence>): LeadEvidence => ({ workEmail: null, companyName: null, companyWebsite: null, ...over });
const ACME: AccountCandidate = { profileId: 'acc-acme', name: 'Acme Incorporated', domains: ['acme.com'] };
const GLOBEX: AccountCandidate = { profileId: 'acc-globex', name: 'Globex Corporation', domains: ['globex.io', 'globex.com'] };

test('normaliseCompanyName drops case, accents, punctuation and legal suffixes', () => {
  const cases: Array<[string, string | null]> = [
    ['ACME Inc.', 'acme'],
    ['Acme Incorporated', 'acme'],
    ['  Acme   Holdings, Ltd. ', 'acme'],
    ['Globex Corp', 'globex'],
    ['Société Générale S.A.', 'societe generale'],
    ['Müller GmbH & Co. KG', 'muller'],
    ['Smith & Co.', 'smith'],
    ['Johnson & Johnson', 'johnson and johnson'],
    ["O'Reilly Media, Inc.", 'oreilly media'],
    ['Philips N.V.', 'philips'],
    ['Acme-Widgets LLC', 'acme widgets'],
    ['The Home Depot, Inc.', 'home depot'],
    ['Holding Partners', 'holding partners'],
    ['Inc.', null],
    ['The Company', null],
    ['', null],
    ['  —  ', null],
  ];
  for (const [input, expected] of cases) assert.equal(normaliseCompanyName(input), expected, input);
});

test('matchKeys: the company domain of the work email, the website domain, the normalised name', () => {
  assert.deepEqual(matchKeys(lead({ workEmail: 'Ada@Acme.com', companyWebsite: 'https://www.acme.io/about', companyName: 'ACME Inc.' })), {
    domains: ['acme.com', 'acme.io'],
    names: ['acme'],
  });
  assert.deepEqual(matchKeys(lead({ workEmail: 'ada@acme.com', companyWebsite: 'acme.com' })), { domains: ['acme.com'], names: [] });
  assert.deepEqual(matchKeys(lead({ workEmail: 'ada.lovelace@gmail.com', companyWebsite: 'n/a', companyName: 'Inc.' })), { domains: [], names: [] });
  assert.deepEqual(matchKeys(lead({ workEmail: 'not an email', companyWebsite: 'http://gmail.com' })), { domains: [], names: [] });
  assert.deepEqual(matchKeys(lead({})), { domains: [], names: [] });
});

test('each piece of evidence scores as documented and says why', () => {
  const email = scoreAccountMatch(lead({ workEmail: 'ada@acme.com' }), ACME);
  assert.deepEqual(email, { profileId: 'acc-acme', score: 0.6, evidence: ['work-email domain acme.com = account domain'] });
  const website = scoreAccountMatch(lead({ companyWebsite: 'https://www.acme.com/' }), ACME);
  assert.deepEqual(website, { profileId: 'acc-acme', score: 0.5, evidence: ['website domain acme.com = account domain'] });
  const name = scoreAccountMatch(lead({ companyName: 'ACME Inc.' }), ACME);
  assert.deepEqual(name, { profileId: 'acc-acme', score: 0.4, evidence: ["company name 'ACME Inc.' ~ 'Acme Incorporated'"] });
  const similar = scoreAccountMatch(lead({ companyName: 'Acme Software Labs' }), { profileId: 'x', name: 'Acme Software Labs Europe', domains: [] });
  assert.equal(similar?.score, 0.25);
  assert.match(similar!.evidence[0]!, /company name 'Acme Software Labs' ~ 'Acme Software Labs Europe' \(word overlap 0\.75\)/);
  assert.equal(scoreAccountMatch(lead({ companyName: 'Acme Software' }), { profileId: 'x', name: 'Acme Hardware', domains: [] }), null, 'Jaccard 1/3');
});

test('evidence combines as 1 - Π(1 - s)', () => {
  const all = scoreAccountMatch(lead({ workEmail: 'ada@acme.com', companyWebsite: 'acme.com', companyName: 'Acme, Inc.' }), ACME)!;
  assert.ok(Math.abs(all.score - (1 - 0.4 * 0.5 * 0.6)) < 1e-12);
  assert.equal(all.evidence.length, 3);
  const two = scoreAccountMatch(lead({ workEmail: 'ada@globex.com', companyWebsite: 'https://globex.io' }), GLOBEX)!;
  assert.ok(Math.abs(two.score - 0.8) < 1e-12);
  assert.deepEqual(two.evidence, ['work-email domain globex.com = account domain', 'website domain globex.io = account domain']);
});

test('free-mail domains never match, even an account that lists one', () => {
  const sloppy: AccountCandidate = { profileId: 'acc-sloppy', name: null, domains: ['gmail.com', 'outlook.com'] };
  assert.equal(scoreAccountMatch(lead({ workEmail: 'ada@gmail.com' }), sloppy), null);
  assert.equal(scoreAccountMatch(lead({ companyWebsite: 'https://gmail.com' }), sloppy), null);
  assert.equal(bestAccountMatch(lead({ workEmail: 'bob@outlook.com', companyWebsite: 'www.gmail.com' }), [sloppy], 0), null);
  // The free-mail address adds nothing, the name still counts.
  const m = scoreAccountMatch(lead({ workEmail: 'ada@gmail.com', companyName: 'ACME' }), { ...ACME, domains: ['acme.com', 'gmail.com'] });
  assert.deepEqual(m?.evidence, ["company name 'ACME' ~ 'Acme Incorporated'"]);
});

test('bestAccountMatch picks the highest score at or above the threshold', () => {
  const ada = lead({ workEmail: 'ada@acme.com', companyName: 'Globex' });
  assert.equal(bestAccountMatch(ada, [GLOBEX, ACME], 0.5)?.profileId, 'acc-acme', 'email 0.6 beats name 0.4');
  assert.equal(bestAccountMatch(ada, [GLOBEX, ACME], 0.6)?.profileId, 'acc-acme', 'the threshold is inclusive');
  assert.equal(bestAccountMatch(ada, [GLOBEX, ACME], 0.61), null, 'below the threshold');
  assert.equal(bestAccountMatch(lead({ companyName: 'Globex' }), [GLOBEX, ACME], 0.3)?.profileId, 'acc-globex');
  assert.equal(bestAccountMatch(lead({ companyName: 'Globex' }), [GLOBEX, ACME], 0.5), null);
  assert.equal(bestAccountMatch(ada, [], 0), null);
});

test('two accounts tied at the top are ambiguous: no match rather than a guess', () => {
  const twin: AccountCandidate = { profileId: 'acc-acme-2', name: 'ACME', domains: ['acme.com'] };
  const ada = lead({ workEmail: 'ada@acme.com' });
  assert.equal(bestAccountMatch(ada, [ACME, twin], 0.5), null);
  assert.equal(bestAccountMatch(ada, [twin, ACME], 0.5), null);
  // A tie below a clear winner does not matter; the same profile twice is not a tie.
  const named = lead({ workEmail: 'ada@acme.com', companyName: 'Acme Inc' });
  assert.equal(bestAccountMatch(named, [twin, ACME, { ...twin, profileId: 'acc-acme-3' }], 0.5), null, 'all three tie on email + name');
  assert.equal(bestAccountMatch(named, [ACME, { ...twin, name: null }, { ...twin, name: null, profileId: 'acc-acme-3' }], 0.5)?.profileId, 'acc-acme');
  assert.equal(bestAccountMatch(ada, [ACME, ACME], 0.5)?.profileId, 'acc-acme');
});

// --- properties -------------------------------------------------------------------------------

const domainArb = fc.constantFrom('acme.com', 'acme.io', 'globex.com', 'gmail.com', 'outlook.com', 'initech.co.uk');
const nameArb = fc.constantFrom('ACME Inc.', 'Acme Incorporated', 'Acme Software', 'Acme Software Labs', 'Globex', 'Globex Corporation', 'Inc.', '', 'Initech');
const emailArb = fc.tuple(fc.constantFrom('ada', 'bob', 'info'), domainArb).map(([l, d]) => `${l}@${d}`);
const websiteArb = fc.tuple(fc.constantFrom('', 'https://', 'http://www.'), domainArb, fc.constantFrom('', '/about')).map(([s, d, p]) => `${s}${d}${p}`);
const leadArb = fc.record({ workEmail: fc.option(emailArb), companyName: fc.option(nameArb), companyWebsite: fc.option(websiteArb) });
const candidateArb = fc.record({ profileId: fc.constantFrom('a', 'b', 'c'), name: fc.option(nameArb), domains: fc.uniqueArray(domainArb, { maxLength: 3 }) });
const score = (l: LeadEvidence, c: AccountCandidate) => scoreAccountMatch(l, c)?.score ?? 0;

test('property: the score is in [0, 1], and every match says why', () => {
  fc.assert(
    fc.property(leadArb, candidateArb, (l, c) => {
      const m = scoreAccountMatch(l, c);
      if (m === null) return;
      assert.ok(m.score > 0 && m.score <= 1, `score ${m.score}`);
      assert.ok(m.evidence.length >= 1 && m.evidence.length <= 3);
      assert.equal(m.profileId, c.profileId);
    }),
    { numRuns: 1000 },
  );
});

test('property: adding evidence (to the lead or the account) never lowers the score', () => {
  fc.assert(
    fc.property(leadArb, leadArb, candidateArb, nameArb, fc.array(domainArb, { maxLength: 2 }), (l, extra, c, name, domains) => {
      const moreLead: LeadEvidence = {
        workEmail: l.workEmail ?? extra.workEmail,
        companyName: l.companyName ?? extra.companyName,
        companyWebsite: l.companyWebsite ?? extra.companyWebsite,
      };
      const moreAccount: AccountCandidate = { ...c, name: c.name ?? name, domains: [...c.domains, ...domains] };
      assert.ok(score(moreLead, c) >= score(l, c));
      assert.ok(score(l, moreAccount) >= score(l, c));
      assert.ok(score(moreLead, moreAccount) >= score(l, c));
    }),
    { numRuns: 1000 },
  );
});

test('property: free-mail evidence alone never matches anything', () => {
  const freeMail = fc.constantFrom('gmail.com', 'outlook.com', 'yahoo.co.uk');
  fc.assert(
    fc.property(freeMail, freeMail, fc.array(candidateArb, { maxLength: 4 }), (mail, site, candidates) => {
      const l = lead({ workEmail: `ada@${mail}`, companyWebsite: `https://${site}` });
      assert.deepEqual(matchKeys(l), { domains: [], names: [] });
      for (const c of candidates) assert.equal(scoreAccountMatch(l, { ...c, domains: [...c.domains, mail, site] }), null);
      assert.equal(bestAccountMatch(l, candidates, 0), null);
    }),
  );
});

test('property: bestAccountMatch is a unique top score at or above the threshold', () => {
  fc.assert(
    fc.property(leadArb, fc.array(candidateArb, { maxLength: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), (l, candidates, threshold) => {
      const best = bestAccountMatch(l, candidates, threshold);
      const scored = candidates.map((c) => scoreAccountMatch(l, c)).filter((m) => m !== null && m.score >= threshold);
      const top = Math.max(...scored.map((m) => m!.score));
      const atTop = new Set(scored.filter((m) => m!.score === top).map((m) => m!.profileId));
      if (best === null) assert.ok(scored.length === 0 || atTop.size > 1);
      else {
        assert.equal(best.score, top);
        assert.deepEqual([...atTop], [best.profileId]);
      }
    }),
    { numRuns: 1000 },
  );
});
