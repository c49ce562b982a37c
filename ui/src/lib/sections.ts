// The sections of the app, in navigation order. A section that does not
// exist yet carries `planned`: what it will do (none today).
export type SectionId =
  | 'sources'
  | 'profiles'
  | 'review'
  | 'segments'
  | 'insights'
  | 'recommendations'
  | 'templates'
  | 'campaigns'
  | 'privacy';

export interface Section {
  id: SectionId;
  label: string;
  /** One line under the title. */
  summary: string;
  /** For sections that do not exist yet: what they will do. */
  planned?: string;
  /** SVG path data (24×24, stroked). */
  icon: string;
}

export const SECTIONS: Section[] = [
  {
    id: 'sources',
    label: 'Sources',
    summary: 'Import CSV exports from your CRM, shop, analytics and email tools.',
    icon: 'M4 6c0-1.1 3.6-2 8-2s8 .9 8 2-3.6 2-8 2-8-.9-8-2Zm0 0v6c0 1.1 3.6 2 8 2s8-.9 8-2V6M4 12v6c0 1.1 3.6 2 8 2s8-.9 8-2v-6',
  },
  {
    id: 'profiles',
    label: 'Profiles',
    summary: 'One unified profile per person, built from all your sources.',
    icon: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8Zm-7 8a7 7 0 0 1 14 0',
  },
  {
    id: 'review',
    label: 'Identity review',
    summary: 'Decide whether borderline pairs of records are the same person.',
    icon: 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8Zm-6 9a6 6 0 0 1 12 0m1-8 2 2 4-4',
  },
  {
    id: 'segments',
    label: 'Segments',
    summary: 'Groups of people defined by rules on their profiles, orders and behaviour.',
    icon: 'M12 3a9 9 0 1 0 9 9h-9V3Zm3 0v6h6a6 6 0 0 0-6-6Z',
  },
  {
    id: 'insights',
    label: 'Insights',
    summary: 'What your customer base looks like: RFM, churn, lifetime value and clusters.',
    icon: 'M4 20V10m6 10V4m6 16v-7m4 7H2',
  },
  {
    id: 'recommendations',
    label: 'Recommendations',
    summary: 'The next best product for each person, learned from the orders and events you import.',
    icon: 'M12 3l2.6 5.6 6.1.7-4.5 4.2 1.2 6L12 16.6 6.6 19.5l1.2-6L3.3 9.3l6.1-.7L12 3Z',
  },
  {
    id: 'templates',
    label: 'Templates',
    summary: 'Messages with personal fields, A/B variants and content by segment, previewed with real profiles.',
    icon: 'M5 4h14v16H5zM8 8h8M8 12h8M8 16h5',
  },
  {
    id: 'campaigns',
    label: 'Campaigns',
    summary: 'Export a segment to the tool that sends: suppression, holdout and the file.',
    icon: 'M3 11l17-7-7 17-2-8-8-2Z',
  },
  {
    id: 'privacy',
    label: 'Privacy',
    summary: 'Consent, erasure and access requests, retention, backups and the audit log.',
    icon: 'M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6l8-3Z',
  },
];

export function sectionById(id: string): Section | undefined {
  return SECTIONS.find((s) => s.id === id);
}
