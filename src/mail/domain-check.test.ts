import { describe, expect, it } from 'vitest';
import { checkSendingDomain, organisationalDomain, type DnsResolver } from './domain-check.ts';

const KEY = 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAexpected';
const expectedDkim = { name: 'mailroom._domainkey.news.acme.test', value: `v=DKIM1; k=rsa; p=${KEY}` };

/** DNS as a table: TXT values by name (split into 255-character strings, as published), A by name. */
function zone(txt: Record<string, string[]>, a: Record<string, string[]> = {}): DnsResolver {
  return async (name, rrtype) => {
    const absent = () => Object.assign(new Error(`no ${rrtype} for ${name}`), { code: 'ENOTFOUND' });
    if (rrtype === 'TXT' && txt[name]) return txt[name].map((value) => value.match(/.{1,255}/g) ?? ['']);
    if (rrtype === 'A' && a[name]) return a[name];
    throw absent();
  };
}

const base = {
  domain: 'news.acme.test',
  relayHost: '192.0.2.10',
  expectedDkim,
  bounceDomain: null,
};

const good = {
  'news.acme.test': ['v=spf1 ip4:192.0.2.10 -all', 'google-site-verification=abc'],
  'mailroom._domainkey.news.acme.test': [expectedDkim.value],
  '_dmarc.news.acme.test': ['v=DMARC1; p=reject; adkim=r'],
};

describe('the sending-domain check', () => {
  it('passes a domain that allows the relay, publishes the key and has a DMARC policy', async () => {
    const report = await checkSendingDomain(zone(good), base);
    expect(report).toMatchObject({
      domain: 'news.acme.test',
      ok: true,
      spf: { status: 'pass', record: 'v=spf1 ip4:192.0.2.10 -all' },
      dkim: { status: 'pass', record: expectedDkim.value },
      dmarc: {
        status: 'pass',
        record: 'v=DMARC1; p=reject; adkim=r',
        policy: { p: 'reject', sp: null, pct: 100, adkim: 'r', aspf: 'r', inherited: false },
      },
    });
  });

  it('resolves a relay named by host, and fails SPF when one of its addresses is not allowed', async () => {
    const resolve = zone(good, { 'relay.platform.test': ['192.0.2.10', '192.0.2.11'] });
    const report = await checkSendingDomain(resolve, { ...base, relayHost: 'relay.platform.test' });
    expect(report.spf.status).toBe('fail');
    expect(report.spf.detail).toContain('192.0.2.11: fail');
    expect(report.ok).toBe(false);
  });

  it('says what is missing: SPF, the DKIM key (or the key made at all), DMARC', async () => {
    const report = await checkSendingDomain(zone({}), base);
    expect(report.spf).toMatchObject({ status: 'missing', record: null });
    expect(report.dkim).toMatchObject({ status: 'missing', record: null });
    expect(report.dkim.detail).toContain(expectedDkim.value);
    expect(report.dmarc).toMatchObject({ status: 'missing', record: null, policy: null });
    expect(report.dmarc.detail).toContain('_dmarc.acme.test');

    const noKey = await checkSendingDomain(zone(good), { ...base, expectedDkim: null });
    expect(noKey.dkim.status).toBe('missing');
    expect(noKey.dkim.detail).toContain('mailroom dkim generate --domain news.acme.test');
  });

  it('fails a DKIM record whose key is another one, and two SPF records', async () => {
    const report = await checkSendingDomain(
      zone({
        ...good,
        'news.acme.test': ['v=spf1 ip4:192.0.2.10 -all', 'v=spf1 -all'],
        'mailroom._domainkey.news.acme.test': ['v=DKIM1; k=rsa; p=MIIBother'],
      }),
      base,
    );
    expect(report.spf.status).toBe('fail');
    expect(report.spf.detail).toContain('2 SPF records');
    expect(report.dkim).toMatchObject({ status: 'fail', record: 'v=DKIM1; k=rsa; p=MIIBother' });
    expect(report.dmarc.status).toBe('fail');
    expect(report.dmarc.detail).toContain('would fail DMARC');
  });

  it('fails SPF when no relay is configured', async () => {
    const report = await checkSendingDomain(zone(good), { ...base, relayHost: null });
    expect(report.spf).toMatchObject({ status: 'fail', record: 'v=spf1 ip4:192.0.2.10 -all' });
    expect(report.spf.detail).toContain('MAILROOM_RELAY_URL');
  });

  it('takes the organisational domain’s DMARC record, with sp= applying', async () => {
    const report = await checkSendingDomain(
      zone({
        ...good,
        '_dmarc.news.acme.test': [],
        '_dmarc.acme.test': ['v=DMARC1; p=reject; sp=quarantine; pct=50; aspf=s'],
      }),
      base,
    );
    expect(report.dmarc).toMatchObject({
      status: 'pass',
      policy: { p: 'reject', sp: 'quarantine', pct: 50, aspf: 's', inherited: true },
    });
    expect(report.dmarc.detail).toContain('Policy quarantine (from _dmarc.acme.test');
  });

  describe('SPF alignment with a VERP bounce domain', () => {
    const withBounceSpf = { ...good, 'bounces.acme.test': ['v=spf1 ip4:192.0.2.10 -all'] };
    const noDkim = { ...withBounceSpf, 'mailroom._domainkey.news.acme.test': [] };

    it('aligns (relaxed) when the bounce domain shares the organisational domain and its SPF passes', async () => {
      const report = await checkSendingDomain(zone(noDkim), { ...base, bounceDomain: 'bounces.acme.test' });
      expect(report.dmarc.status).toBe('pass');
      expect(report.dmarc.detail).toContain('SPF aligns (relaxed)');
      expect(report.spf.detail).toContain('bounces+…@bounces.acme.test');
    });

    it('does not align under aspf=s, nor for another organisation’s domain: DMARC rests on DKIM', async () => {
      const strict = zone({ ...noDkim, '_dmarc.news.acme.test': ['v=DMARC1; p=none; aspf=s'] });
      const strictReport = await checkSendingDomain(strict, { ...base, bounceDomain: 'bounces.acme.test' });
      expect(strictReport.dmarc.status).toBe('fail');
      expect(strictReport.dmarc.detail).toContain('SPF does not align (strict)');

      const other = zone({ ...noDkim, 'bounces.platform.test': ['v=spf1 ip4:192.0.2.10 -all'] });
      const otherReport = await checkSendingDomain(other, {
        ...base,
        bounceDomain: 'bounces.platform.test',
      });
      expect(otherReport.dmarc.status).toBe('fail');
      expect(otherReport.dmarc.detail).toContain('not under acme.test');

      const signed = await checkSendingDomain(zone(good), { ...base, bounceDomain: 'bounces.platform.test' });
      expect(signed.dmarc.status).toBe('pass');
      expect(signed.dmarc.detail).toContain('DKIM aligns (relaxed)');
    });
  });

  it('knows organisational domains by the public suffix list', () => {
    expect(organisationalDomain('mail.news.example.co.uk')).toBe('example.co.uk');
    expect(organisationalDomain('news.example.com')).toBe('example.com');
  });
});
