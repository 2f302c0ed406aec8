import { describe, expect, it } from 'vitest';
import { AutoconfigFormatError, autoconfigUrls, parseClientConfig, splitAddress } from './autoconfig.ts';
import { ispdbUrlFor } from './ispdb.ts';

const address = splitAddress('Jo.Smith@Example.COM');
const parse = (xml: string) =>
  parseClientConfig(xml, address, 'autoconfig', 'https://autoconfig.example.com/x');

const document = (servers: string) => `<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="example.com"><domain>example.com</domain>${servers}</emailProvider></clientConfig>`;

describe("Thunderbird's config-v1.1.xml", () => {
  it('reads each server with its security, port and login name, placeholders filled', () => {
    const found = parse(
      document(`
        <incomingServer type="imap"><hostname>IMAP.%EMAILDOMAIN%</hostname><port>993</port>
          <socketType>SSL</socketType><username>%EMAILLOCALPART%</username>
          <authentication>password-cleartext</authentication></incomingServer>
        <incomingServer type="pop3"><hostname>pop.example.com</hostname><port>110</port>
          <socketType>STARTTLS</socketType><username>%EMAILADDRESS%</username>
          <authentication>password-encrypted</authentication></incomingServer>
        <outgoingServer type="smtp"><hostname>smtp.example.com</hostname><port>587</port>
          <socketType>plain</socketType><authentication>none</authentication></outgoingServer>
        <incomingServer type="exchange"><hostname>ews.example.com</hostname></incomingServer>`),
    );
    expect(found).toEqual([
      expect.objectContaining({
        protocol: 'smtp',
        host: 'smtp.example.com',
        port: 587,
        security: 'none',
        requiresAuth: false,
      }),
      expect.objectContaining({
        protocol: 'imap',
        host: 'imap.example.com',
        port: 993,
        security: 'tls',
        username: 'Jo.Smith',
        spa: false,
      }),
      expect.objectContaining({
        protocol: 'pop3',
        security: 'starttls',
        username: 'Jo.Smith@example.com',
        spa: true,
      }),
    ]);
  });

  it('notes a server that offers only logins Mailroom cannot use', () => {
    const [server] = parse(
      document(`<incomingServer type="imap"><hostname>imap.example.com</hostname><port>993</port>
        <socketType>SSL</socketType><authentication>OAuth2</authentication></incomingServer>`),
    );
    expect(server?.note).toMatch(/only OAuth2 logins/);
  });

  it('refuses what is not XML, has a DTD, or is not a clientConfig', () => {
    expect(() => parse('<clientConfig><emailProvider>')).toThrow(AutoconfigFormatError);
    expect(() => parse('<clientConfig><emailProvider>')).toThrow(/^not XML: /);
    expect(() =>
      parse('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><clientConfig>&a;</clientConfig>'),
    ).toThrow(/DTD/);
    expect(() => parse('<html><body>Hello</body></html>')).toThrow(/not a clientConfig/);
    expect(() => parse('<clientConfig version="1.1"></clientConfig>')).toThrow(/no emailProvider/);
  });

  it('skips servers it cannot use and takes at most eight', () => {
    const bad = `<incomingServer type="imap"><hostname>bad host!</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
      <incomingServer type="imap"><hostname>imap.example.com</hostname><port>99999</port><socketType>SSL</socketType></incomingServer>
      <incomingServer type="imap"><hostname>imap.example.com</hostname><port>993</port><socketType>QUIC</socketType></incomingServer>`;
    const many = Array.from(
      { length: 12 },
      (_, i) =>
        `<incomingServer type="imap"><hostname>imap${i}.example.com</hostname><port>993</port><socketType>SSL</socketType></incomingServer>`,
    ).join('');
    expect(parse(document(bad))).toEqual([]);
    expect(parse(document(many))).toHaveLength(8);
  });

  it('knows where a domain and an ISP database publish it', () => {
    expect(autoconfigUrls(address, 'example.com')).toEqual({
      autoconfig: 'https://autoconfig.example.com/mail/config-v1.1.xml?emailaddress=Jo.Smith%40example.com',
      wellKnown: 'https://example.com/.well-known/autoconfig/mail/config-v1.1.xml',
    });
    expect(ispdbUrlFor('https://autoconfig.thunderbird.net/v1.1/', 'example.com')).toBe(
      'https://autoconfig.thunderbird.net/v1.1/example.com',
    );
    expect(ispdbUrlFor('https://ispdb.internal/lookup?domain={domain}', 'example.com')).toBe(
      'https://ispdb.internal/lookup?domain=example.com',
    );
  });
});
