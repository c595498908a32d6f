import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";

import { serverConfig } from "@/lib/config";

import "./globals.css";
import { Providers } from "./providers";

export const metadata: Metadata = { title: "Todo" };
export const viewport: Viewport = { width: "device-width", initialScale: 1 };
// Settings are read per request, so one build runs against any service.
export const dynamic = "force-dynamic";

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-dvh font-sans">
        <Providers apiUrl={serverConfig.todoApiUrl}>{children}</Providers>
      </body>
    </html>
  );
}
