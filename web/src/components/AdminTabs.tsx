import { Tabs } from '@mantine/core';
import { useNavigate } from 'react-router';

const tabs = [
  { value: '/admin', label: 'Approval queue' },
  { value: '/admin/accounts', label: 'All accounts' },
  { value: '/admin/audit', label: 'Audit log' },
] as const;

/** The admin pages, one tab each: each is a page of its own, with its own address. */
export function AdminTabs({ current }: { current: (typeof tabs)[number]['value'] }) {
  const navigate = useNavigate();
  return (
    <Tabs value={current} onChange={(value) => value && void navigate(value)}>
      <Tabs.List aria-label="Admin pages">
        {tabs.map((tab) => (
          <Tabs.Tab key={tab.value} value={tab.value}>
            {tab.label}
          </Tabs.Tab>
        ))}
      </Tabs.List>
    </Tabs>
  );
}
