// Hash routing (#/sources): works from a file URL, the desktop app and
// `cohort serve` alike, and needs nothing from the server.
import { sectionById, type SectionId } from './sections';

function current(): SectionId {
  const id = window.location.hash.replace(/^#\/?/, '').split('/')[0];
  return sectionById(id)?.id ?? 'sources';
}

class Router {
  section = $state<SectionId>(current());

  constructor() {
    window.addEventListener('hashchange', () => {
      this.section = current();
    });
  }

  go(id: SectionId): void {
    if (window.location.hash !== `#/${id}`) window.location.hash = `#/${id}`;
    this.section = id;
  }
}

export const router = new Router();
