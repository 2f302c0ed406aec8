/**
 * The pages of account settings, shared by the add-account wizard and the account settings tabs:
 * General, Outgoing server, Incoming server, Advanced, Delivery and Other, as in the product doc.
 */
import {
  Alert,
  Checkbox,
  Code,
  Collapse,
  Fieldset,
  Group,
  NumberInput,
  PasswordInput,
  Radio,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core';
import type { ReactNode } from 'react';
import {
  defaultPort,
  type AccountForm,
  type PageKey,
  type Protocol,
  type Security,
} from './AccountFormModel.ts';
import { AccountFormSenderPreview } from './AccountFormSenderPreview.tsx';

interface SectionProps {
  form: AccountForm;
}

const securityOptions: { value: Security; label: string }[] = [
  { value: 'starttls', label: 'STARTTLS' },
  { value: 'tls', label: 'TLS on connect' },
  { value: 'none', label: 'None (plain text)' },
];

const protocolNames: Record<Protocol, string> = { none: 'None', pop3: 'POP3', imap: 'IMAP', jmap: 'JMAP' };

/** A labelled segmented control: the label names the group for screen readers. */
function LabelledChoice<T extends string>({
  id,
  label,
  description,
  value,
  onChange,
  data,
  error,
}: {
  id: string;
  label: string;
  description?: string;
  value: T;
  onChange: (value: T) => void;
  data: { value: T; label: string }[];
  error?: string | undefined;
}) {
  return (
    <Stack gap={4}>
      <Text size="sm" fw={500} id={`${id}-label`}>
        {label}
      </Text>
      {description && (
        <Text size="xs" c="dimmed" id={`${id}-description`} mt={-4}>
          {description}
        </Text>
      )}
      <SegmentedControl
        aria-labelledby={`${id}-label`}
        aria-describedby={description ? `${id}-description` : undefined}
        value={value}
        onChange={(next) => onChange(next as T)}
        data={data}
        style={{ alignSelf: 'flex-start', maxWidth: '100%' }}
      />
      {error && (
        <Text size="xs" c="red.7" role="alert">
          {error}
        </Text>
      )}
    </Stack>
  );
}

/** A password input for a write-only secret: empty means "keep the saved one". */
function SecretInput({
  form,
  field,
  label,
  saved,
  autoComplete = 'new-password',
}: {
  form: AccountForm;
  field: 'smtp.password' | 'incoming.password' | 'smtp.proxy.password';
  label: string;
  saved: boolean;
  autoComplete?: string;
}) {
  return (
    <PasswordInput
      label={saved ? `Change ${label.toLowerCase()}` : label}
      description={saved ? 'A password is saved. Leave this empty to keep it.' : undefined}
      placeholder={saved ? '••••••••' : undefined}
      autoComplete={autoComplete}
      {...form.text(field)}
    />
  );
}

function Note({ children }: { children: ReactNode }) {
  return (
    <Alert color="gray" variant="light">
      <Text size="sm">{children}</Text>
    </Alert>
  );
}

export function ScopeField({ form }: SectionProps) {
  return (
    <Radio.Group
      label="Who may send from it"
      value={form.values.scope}
      onChange={(value) => form.set('scope', value as 'personal' | 'team')}
      error={form.errors.scope}
    >
      <Stack gap="xs" mt={6}>
        <Radio value="personal" label="Only me (personal)" description="Only you see and use it." />
        <Radio
          value="team"
          label="Everyone in the organisation (team)"
          description="Every member can send from it, like sales@. Only you and admins can change it."
        />
      </Stack>
    </Radio.Group>
  );
}

export function TypeSection({ form }: SectionProps) {
  return (
    <Stack gap="lg">
      <Radio.Group
        label="What kind of account"
        value={form.values.type}
        onChange={(value) => form.set('type', value as 'own' | 'marketing')}
        error={form.errors.type}
      >
        <Stack gap="xs" mt={6}>
          <Radio
            value="own"
            label="Own account"
            description="Your mailbox at your provider or company server: mail goes out through its SMTP server, and incoming mail can be read over POP3, IMAP or JMAP."
          />
          <Radio
            value="marketing"
            label="Marketing account"
            description="A sending identity on the platform's relay, signed for your domain. An administrator approves it before it can send."
          />
        </Stack>
      </Radio.Group>
      <ScopeField form={form} />
    </Stack>
  );
}

export function GeneralSection({ form, withScope = false }: SectionProps & { withScope?: boolean }) {
  const { values } = form;
  return (
    <Stack gap="md">
      <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md" verticalSpacing="md">
        <TextInput
          label="Account name"
          description="An internal name for picking it from lists"
          required
          {...form.text('name')}
        />
        <TextInput
          label="Email address"
          description="The address mail is sent from"
          type="email"
          required
          autoComplete="off"
          {...form.text('email')}
        />
        <TextInput
          label="Display name"
          description="Shown to recipients as the sender"
          {...form.text('displayName')}
        />
        <TextInput label="Organisation" {...form.text('organization')} />
        <TextInput
          label="Reply-to address"
          description="Optional. When empty, replies go to the sending address."
          type="email"
          {...form.text('replyTo')}
        />
        <TextInput label="Reply-to name" description="Optional" {...form.text('replyToName')} />
      </SimpleGrid>
      {withScope && <ScopeField form={form} />}
      <Fieldset legend="Sender personalisation" variant="filled">
        <Stack gap="sm">
          <Switch
            label="Take the sender's name from each contact's card"
            description="One campaign then shows each recipient a different sender name. A field the card lacks falls back to the display name."
            {...form.check('personalise')}
          />
          <Collapse expanded={values.personalise}>
            <Stack gap="sm">
              <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
                <TextInput
                  label="Sender name template"
                  placeholder="{{contact.owner.name}} at Acme"
                  {...form.text('fromNameTemplate')}
                />
                <TextInput
                  label="Reply-to name template"
                  description="Optional"
                  placeholder="{{contact.owner.name}}"
                  {...form.text('replyToNameTemplate')}
                />
              </SimpleGrid>
              <Text size="xs" c="dimmed">
                Placeholders: <Code>{'{{contact.name}}'}</Code>, <Code>{'{{contact.email}}'}</Code>,{' '}
                <Code>{'{{contact.owner.name}}'}</Code>, <Code>{'{{contact.fields.key}}'}</Code>.
              </Text>
            </Stack>
          </Collapse>
          <AccountFormSenderPreview values={values} />
        </Stack>
      </Fieldset>
    </Stack>
  );
}

export function OutgoingSection({ form }: SectionProps) {
  const { values } = form;
  const noIncoming = values['incoming.protocol'] === 'none';
  const borrow = values['smtp.useIncomingCredentials'];
  return (
    <Stack gap="md">
      <TextInput
        label="SMTP server"
        description="Its port and security are on the Advanced page."
        placeholder="smtp.example.com"
        required
        autoComplete="off"
        {...form.text('smtp.host')}
      />
      <Switch label="My outgoing server requires authentication" {...form.check('smtp.requiresAuth')} />
      <Collapse expanded={values['smtp.requiresAuth']}>
        <Stack gap="md" pl={{ base: 0, sm: 'lg' }}>
          <Checkbox
            label="Use the same settings as my incoming mail server"
            description={
              noIncoming
                ? 'Set up an incoming server on the Incoming page to use its user name and password.'
                : 'The user name and password from the Incoming page.'
            }
            disabled={noIncoming && !borrow}
            {...form.check('smtp.useIncomingCredentials')}
          />
          {!borrow && (
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
              <TextInput label="User name" autoComplete="off" {...form.text('smtp.username')} />
              <SecretInput
                form={form}
                field="smtp.password"
                label="Password"
                saved={form.saved?.smtp ?? false}
              />
            </SimpleGrid>
          )}
          <Checkbox
            label="Secure password authentication (SPA)"
            description="Log in with a challenge (CRAM-MD5), so the password itself never crosses the wire. A server that offers none is reported, never given the password in plain text."
            {...form.check('smtp.spa')}
          />
        </Stack>
      </Collapse>
      <Switch
        label="Connect through a proxy"
        description="A SOCKS5 or HTTP CONNECT proxy between Mailroom and the SMTP server"
        {...form.check('smtp.useProxy')}
      />
      <Collapse expanded={values['smtp.useProxy']}>
        <Stack gap="md" pl={{ base: 0, sm: 'lg' }}>
          <LabelledChoice
            id="proxy-type"
            label="Proxy type"
            value={values['smtp.proxy.type']}
            onChange={(value) => form.set('smtp.proxy.type', value)}
            data={[
              { value: 'socks5', label: 'SOCKS5' },
              { value: 'http', label: 'HTTP CONNECT' },
            ]}
            error={form.errors['smtp.proxy.type']}
          />
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
            <TextInput label="Proxy host" autoComplete="off" {...form.text('smtp.proxy.host')} />
            <NumberInput
              label="Proxy port"
              min={1}
              max={65535}
              allowDecimal={false}
              allowNegative={false}
              {...form.number('smtp.proxy.port')}
            />
            <TextInput
              label="Proxy user name"
              description="Optional"
              autoComplete="off"
              {...form.text('smtp.proxy.username')}
            />
            <SecretInput
              form={form}
              field="smtp.proxy.password"
              label="Proxy password"
              saved={form.saved?.proxy ?? false}
            />
          </SimpleGrid>
        </Stack>
      </Collapse>
    </Stack>
  );
}

export function IncomingSection({ form }: SectionProps) {
  const { values } = form;
  const protocol = values['incoming.protocol'];
  const jmap = protocol === 'jmap';
  const token = jmap && values['incoming.authMethod'] === 'token';
  return (
    <Stack gap="md">
      <LabelledChoice
        id="incoming-protocol"
        label="Read incoming mail over"
        description="Optional. Reading the mailbox files replies on their contacts and catches bounces."
        value={protocol}
        onChange={(value) => {
          form.set('incoming.protocol', value);
          if (value === 'pop3' || value === 'imap') {
            form.set('incoming.port', defaultPort(value, values['incoming.security']));
          }
          if (value === 'imap' || value === 'jmap') form.set('incoming.leaveOnServer', true);
        }}
        data={(['none', 'pop3', 'imap', 'jmap'] as const).map((value) => ({
          value,
          label: protocolNames[value],
        }))}
        error={form.errors['incoming.protocol']}
      />
      {protocol === 'none' ? (
        <Note>
          Mailroom will only send from this account. Replies and delivery-failure reports to this address are
          not read.
        </Note>
      ) : (
        <>
          <TextInput
            label={jmap ? 'Session URL or host' : `${protocolNames[protocol]} server`}
            description={
              jmap
                ? 'Such as https://mail.example.com/jmap, or a host to find it at https://host/.well-known/jmap'
                : 'Its port and security are on the Advanced page.'
            }
            placeholder={jmap ? 'https://mail.example.com/jmap' : `${protocol}.example.com`}
            required
            autoComplete="off"
            {...form.text('incoming.server')}
          />
          {jmap && (
            <LabelledChoice
              id="incoming-auth"
              label="Log in with"
              value={values['incoming.authMethod']}
              onChange={(value) => form.set('incoming.authMethod', value)}
              data={[
                { value: 'password', label: 'User name and password' },
                { value: 'token', label: 'Access token' },
              ]}
              error={form.errors['incoming.authMethod']}
            />
          )}
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
            {!token && <TextInput label="User name" autoComplete="off" {...form.text('incoming.username')} />}
            <SecretInput
              form={form}
              field="incoming.password"
              label={token ? 'Access token' : 'Password'}
              saved={form.saved?.incoming ?? false}
            />
          </SimpleGrid>
          <Checkbox
            label="Remember password"
            description="When off, the passwords are held in memory only, and asked for again after a restart."
            {...form.check('incoming.rememberPassword')}
          />
          {!jmap && (
            <Checkbox
              label="Secure password authentication (SPA)"
              description={
                protocol === 'pop3'
                  ? 'Log in with APOP or CRAM-MD5, so the password never crosses the wire.'
                  : 'Log in with CRAM-MD5 or SCRAM, so the password never crosses the wire.'
              }
              {...form.check('incoming.spa')}
            />
          )}
          {protocol !== 'pop3' && (
            <TagsInput
              label="Folders to read"
              description="Press Enter after each folder name. Mail is never marked as read."
              clearable
              value={values['incoming.folders']}
              onChange={(next) => form.set('incoming.folders', next)}
              error={form.errors['incoming.folders']}
            />
          )}
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
            <TextInput
              label="Read mail from"
              description="The first sync starts at this date. Empty: from today."
              type="date"
              {...form.text('incoming.syncSince')}
            />
            <NumberInput
              label="Check every (seconds)"
              description="30 seconds to a day"
              min={30}
              max={86_400}
              step={30}
              allowDecimal={false}
              allowNegative={false}
              {...form.number('incoming.pollIntervalSeconds')}
            />
          </SimpleGrid>
        </>
      )}
    </Stack>
  );
}

function PortFields({
  form,
  kind,
  prefix,
}: {
  form: AccountForm;
  kind: 'smtp' | 'pop3' | 'imap';
  prefix: 'smtp' | 'incoming';
}) {
  const { values } = form;
  const security = values[`${prefix}.security`];
  const standard = defaultPort(kind, security);
  const useDefault = values[`${prefix}.useDefaultPort`];
  const name = kind.toUpperCase();
  return (
    <Stack gap="sm">
      <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
        <Select
          label={`${name} security`}
          description="Certificates are always verified."
          data={securityOptions}
          allowDeselect={false}
          value={security}
          onChange={(value) => {
            if (!value) return;
            form.set(`${prefix}.security`, value as Security);
            if (useDefault) form.set(`${prefix}.port`, defaultPort(kind, value as Security));
          }}
          error={form.errors[`${prefix}.security`]}
        />
        <NumberInput
          label={`${name} port`}
          description={useDefault ? `The default for this security: ${standard}` : `1–65535`}
          min={1}
          max={65535}
          allowDecimal={false}
          allowNegative={false}
          disabled={useDefault}
          {...form.number(`${prefix}.port`)}
          value={useDefault ? standard : values[`${prefix}.port`]}
          error={form.errors[`${prefix}.port`]}
        />
      </SimpleGrid>
      <Checkbox
        label={`Use the default ${name} port`}
        description={
          kind === 'smtp'
            ? 'SMTP: 25, 587 with STARTTLS, 465 with TLS on connect'
            : kind === 'pop3'
              ? 'POP3: 110, 995 with TLS on connect'
              : 'IMAP: 143, 993 with TLS on connect'
        }
        checked={useDefault}
        onChange={(event) => {
          const checked = event.currentTarget.checked;
          form.set(`${prefix}.useDefaultPort`, checked);
          if (!checked) form.set(`${prefix}.port`, standard);
        }}
      />
    </Stack>
  );
}

function TimeoutField({
  form,
  field,
}: {
  form: AccountForm;
  field: 'smtp.timeoutSeconds' | 'incoming.timeoutSeconds';
}) {
  return (
    <NumberInput
      label="Server timeout (seconds)"
      description="How long to wait for the server: 1 to 120 seconds"
      min={1}
      max={120}
      allowDecimal={false}
      allowNegative={false}
      {...form.number(field)}
    />
  );
}

export function AdvancedSection({ form, own = true }: SectionProps & { own?: boolean }) {
  const protocol = form.values['incoming.protocol'];
  return (
    <Stack gap="lg">
      {own && (
        <Fieldset legend="Outgoing server (SMTP)">
          <Stack gap="md">
            <PortFields form={form} kind="smtp" prefix="smtp" />
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
              <TimeoutField form={form} field="smtp.timeoutSeconds" />
            </SimpleGrid>
          </Stack>
        </Fieldset>
      )}
      <Fieldset legend={`Incoming server${protocol === 'none' ? '' : ` (${protocolNames[protocol]})`}`}>
        {protocol === 'none' ? (
          <Text size="sm" c="dimmed">
            No incoming server is set. Choose one on the Incoming page first.
          </Text>
        ) : (
          <Stack gap="md">
            {protocol === 'jmap' ? (
              <Text size="sm" c="dimmed">
                JMAP runs over HTTPS or plain HTTP, as its session URL says.
              </Text>
            ) : (
              <PortFields form={form} kind={protocol} prefix="incoming" />
            )}
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
              <TimeoutField form={form} field="incoming.timeoutSeconds" />
            </SimpleGrid>
          </Stack>
        )}
      </Fieldset>
    </Stack>
  );
}

export function DeliverySection({ form }: SectionProps) {
  const { values } = form;
  const protocol = values['incoming.protocol'];
  if (protocol === 'none') {
    return (
      <Note>These options are for incoming mail. Choose an incoming server on the Incoming page first.</Note>
    );
  }
  const pop3 = protocol === 'pop3';
  const leave = !pop3 || values['incoming.leaveOnServer'];
  return (
    <Stack gap="md">
      <NumberInput
        label="Number of messages"
        description="The most read in one fetch: 1 to 5,000"
        min={1}
        max={5000}
        allowDecimal={false}
        allowNegative={false}
        maw={320}
        {...form.number('incoming.maxMessagesPerFetch')}
      />
      <Checkbox
        label="Leave a copy of messages on the server"
        description={
          pop3
            ? 'Each message is tracked by its UIDL, so a copy left there is read only once.'
            : 'IMAP and JMAP always leave mail on the server; the options below decide when it goes.'
        }
        disabled={!pop3}
        {...form.check('incoming.leaveOnServer')}
        checked={leave}
      />
      <Stack gap="xs" pl="lg">
        <Group gap="sm" align="center" wrap="wrap">
          <Checkbox
            label="Remove from the server after"
            disabled={!leave}
            {...form.check('incoming.removeAfter')}
          />
          <NumberInput
            aria-label="Days before removing from the server"
            min={1}
            max={3650}
            allowDecimal={false}
            allowNegative={false}
            disabled={!leave || !values['incoming.removeAfter']}
            w={110}
            rightSection={
              <Text size="xs" c="dimmed" pr={6}>
                days
              </Text>
            }
            rightSectionWidth={44}
            {...form.number('incoming.removeAfterDays')}
          />
        </Group>
        <Checkbox
          label="Remove from the server when deleted here"
          disabled={!leave}
          {...form.check('incoming.removeWhenDeleted')}
        />
      </Stack>
      <Checkbox
        label="Delete bounced messages from the server"
        description="Once a delivery-failure report has been processed"
        {...form.check('incoming.deleteBounces')}
      />
    </Stack>
  );
}

export function OtherSection({ form, children }: SectionProps & { children?: ReactNode }) {
  return (
    <Stack gap="md">
      <Checkbox
        label="Mark incoming emails as private"
        description="Received mail is not shown on the contact's record."
        {...form.check('options.markIncomingPrivate')}
      />
      <Checkbox
        label="Mark outgoing emails as private"
        description="Sent mail is not shown on the contact's record."
        {...form.check('options.markOutgoingPrivate')}
      />
      <Text size="xs" c="dimmed">
        Unless private, every message is filed on the contact whose address is in From (incoming) or To
        (outgoing).
      </Text>
      {children}
    </Stack>
  );
}

export const pageDescriptions: Record<PageKey, string> = {
  type: 'Own or marketing, and who may send from it.',
  general: 'Who the mail is from, and where replies go.',
  outgoing: 'The SMTP server that sends this account’s mail.',
  incoming: 'Where Mailroom reads replies and delivery-failure reports. Optional.',
  advanced: 'Ports, security and timeouts.',
  delivery: 'What happens to mail on the incoming server.',
  other: 'Privacy on contact records.',
};

/** One page of the settings, by its key. */
export function AccountFormPage({
  page,
  form,
  editing = false,
  other,
}: {
  page: PageKey;
  form: AccountForm;
  /** Settings of a saved account: the scope sits on General (the wizard asks it first) */
  editing?: boolean;
  /** What the Other page carries besides the options (the outbox buttons of a saved account) */
  other?: ReactNode;
}) {
  switch (page) {
    case 'type':
      return <TypeSection form={form} />;
    case 'general':
      return <GeneralSection form={form} withScope={editing} />;
    case 'outgoing':
      return <OutgoingSection form={form} />;
    case 'incoming':
      return <IncomingSection form={form} />;
    case 'advanced':
      return <AdvancedSection form={form} own={form.values.type === 'own'} />;
    case 'delivery':
      return <DeliverySection form={form} />;
    case 'other':
      return <OtherSection form={form}>{other}</OtherSection>;
  }
}
