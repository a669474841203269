import { PageHeader } from '../../components/ui';

// Placeholder until the page is built (i15).
export default function ApprovalsPage() {
  return <PageHeader title="ApprovalsPage" />;
}
