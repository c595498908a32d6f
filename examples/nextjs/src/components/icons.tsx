// A few inline icons (no icon font or image is fetched). Decorative: each is
// aria-hidden, and whatever holds it carries the words.
import type { ReactNode, SVGProps } from "react";

function Icon({ children, ...props }: SVGProps<SVGSVGElement> & { children: ReactNode }) {
  return (
    <svg
      viewBox="0 0 20 20"
      fill="none"
      stroke="currentColor"
      strokeWidth={1.7}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
      width="1em"
      height="1em"
      {...props}
    >
      {children}
    </svg>
  );
}

type P = SVGProps<SVGSVGElement>;

export const CheckIcon = (p: P) => (
  <Icon {...p}>
    <path d="M4.5 10.5l3.5 3.5 7.5-8" />
  </Icon>
);
export const PencilIcon = (p: P) => (
  <Icon {...p}>
    <path d="M13.5 3.5l3 3L7 16H4v-3z" />
  </Icon>
);
export const TrashIcon = (p: P) => (
  <Icon {...p}>
    <path d="M3.5 5.5h13M8 5.5V3.8h4v1.7M5.5 5.5l.8 10.7h7.4l.8-10.7M8.3 8.5v5M11.7 8.5v5" />
  </Icon>
);
export const SearchIcon = (p: P) => (
  <Icon {...p}>
    <circle cx="8.5" cy="8.5" r="5" />
    <path d="M12.3 12.3l4.2 4.2" />
  </Icon>
);
export const PlusIcon = (p: P) => (
  <Icon {...p}>
    <path d="M10 4v12M4 10h12" />
  </Icon>
);
export const XIcon = (p: P) => (
  <Icon {...p}>
    <path d="M5 5l10 10M15 5L5 15" />
  </Icon>
);
export const AlertIcon = (p: P) => (
  <Icon {...p}>
    <path d="M10 3l7.5 13.5h-15z" />
    <path d="M10 8.5v3.5M10 14.3v.2" />
  </Icon>
);
export const CalendarIcon = (p: P) => (
  <Icon {...p}>
    <rect x="3.5" y="4.5" width="13" height="12" rx="2" />
    <path d="M3.5 8.5h13M7 3v3M13 3v3" />
  </Icon>
);
export const FlagIcon = (p: P) => (
  <Icon {...p}>
    <path d="M5 17V3.5M5 4h9l-2 3.5 2 3.5H5" />
  </Icon>
);
export const TagIcon = (p: P) => (
  <Icon {...p}>
    <path d="M3.5 3.5h6l7 7-6 6-7-7z" />
    <circle cx="7" cy="7" r="1" />
  </Icon>
);
export const SortIcon = (p: P) => (
  <Icon {...p}>
    <path d="M6 4v12M3 13l3 3 3-3M14 16V4M11 7l3-3 3 3" />
  </Icon>
);
export const ChevronLeftIcon = (p: P) => (
  <Icon {...p}>
    <path d="M12 4l-6 6 6 6" />
  </Icon>
);
export const ChevronRightIcon = (p: P) => (
  <Icon {...p}>
    <path d="M8 4l6 6-6 6" />
  </Icon>
);
export const RepeatIcon = (p: P) => (
  <Icon {...p}>
    <path d="M4 9V7.5A2.5 2.5 0 016.5 5H15M12.5 2.5L15 5l-2.5 2.5M16 11v1.5a2.5 2.5 0 01-2.5 2.5H5M7.5 17.5L5 15l2.5-2.5" />
  </Icon>
);
export const BellIcon = (p: P) => (
  <Icon {...p}>
    <path d="M5 13.5V9a5 5 0 0110 0v4.5l1.5 1.5h-13zM8.3 17a1.8 1.8 0 003.4 0" />
  </Icon>
);
export const LogoIcon = (p: P) => (
  <svg viewBox="0 0 32 32" aria-hidden="true" focusable="false" width="1em" height="1em" {...p}>
    <rect width="32" height="32" rx="7" fill="#1f6feb" />
    <path d="M9 16.5l5 5 9-11" fill="none" stroke="#fff" strokeWidth="3.5" strokeLinecap="round" strokeLinejoin="round" />
  </svg>
);
