/**
 * Admin (`/manage`, since the Functions host keeps `/admin/*`): privileged access on or off, approver
 * groups, the catalog and the policies, one tab each with its own address (`/manage/policies`), so a
 * link or a reload opens the same tab.
 */
import { Tab, TabList, makeStyles, tokens } from '@fluentui/react-components';
import { useLocation } from 'wouter';
import { PageHeader } from '../../components/ui';
import { CatalogSection } from './CatalogSection';
import { GroupsSection } from './GroupsSection';
import { PamSection } from './PamSection';
import { PoliciesSection } from './PoliciesSection';

const TABS = [
  { id: 'access', label: 'Privileged access', Section: PamSection },
  { id: 'groups', label: 'Approver groups', Section: GroupsSection },
  { id: 'catalog', label: 'Catalog', Section: CatalogSection },
  { id: 'policies', label: 'Policies', Section: PoliciesSection },
] as const;
type TabId = (typeof TABS)[number]['id'];

const useStyles = makeStyles({
  tabs: { marginBottom: tokens.spacingVerticalL, overflowX: 'auto' },
});

export default function AdminPage() {
  const styles = useStyles();
  const [location, navigate] = useLocation();
  const segment = location.replace(/^\/manage\/?/, '').split('/')[0] ?? '';
  const current = TABS.find((t) => t.id === segment) ?? TABS[0];
  const Section = current.Section;
  return (
    <>
      <PageHeader
        title="Admin"
        description="Turn privileged access on or off, say who approves, what can be requested and under which rules."
      />
      <TabList
        className={styles.tabs}
        selectedValue={current.id}
        onTabSelect={(_, d) => navigate(`/manage/${d.value as TabId}`)}
        aria-label="Administration"
      >
        {TABS.map((t) => (
          <Tab key={t.id} value={t.id}>
            {t.label}
          </Tab>
        ))}
      </TabList>
      <Section />
    </>
  );
}
