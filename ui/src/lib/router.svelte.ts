// Hash routing (#/sources, #/profiles/123): works from a file URL, the
// desktop app and `cohort serve` alike, and needs nothing from the server.
import { sectionById, type SectionId } from './sections';

interface Route {
  section: SectionId;
  /** What follows the section, e.g. `123` in `#/profiles/123` ('' when nothing). */
  sub: string;
}

function current(): Route {
  const [id = '', ...rest] = window.location.hash.replace(/^#\/?/, '').split('/');
  const section = sectionById(id)?.id;
  return section ? { section, sub: rest.join('/') } : { section: 'sources', sub: '' };
}

class Router {
  section = $state<SectionId>(current().section);
  sub = $state<string>(current().sub);

  constructor() {
    window.addEventListener('hashchange', () => {
      const r = current();
      this.section = r.section;
      this.sub = r.sub;
    });
  }

  /** Goes to a section, or to a place inside it (`go('profiles', '123')`). */
  go(id: SectionId, sub = ''): void {
    const hash = sub ? `#/${id}/${sub}` : `#/${id}`;
    if (window.location.hash !== hash) window.location.hash = hash;
    this.section = id;
    this.sub = sub;
  }
}

export const router = new Router();

/** The address of a place in the app, for links. */
export function href(id: SectionId, sub: string | number = ''): string {
  return sub === '' ? `#/${id}` : `#/${id}/${sub}`;
}
