import type { Metadata } from "next";
import type { ReactNode } from "react";

import { serverConfig } from "@/lib/config";

import "./globals.css";
import { Providers } from "./providers";

export const metadata: Metadata = { title: "Todo" };
// Settings are read per request, so one build runs against any service.
export const dynamic = "force-dynamic";

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers apiUrl={serverConfig.todoApiUrl}>{children}</Providers>
      </body>
    </html>
  );
}
