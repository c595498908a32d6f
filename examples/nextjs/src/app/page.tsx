import { headers } from "next/headers";
import { redirect } from "next/navigation";

import { DangerZone, UserMenu } from "@/components/account";
import { LogoIcon } from "@/components/icons";
import { TaskBoard } from "@/components/task-board";
import { OfflineProvider } from "@/lib/api/offline";
import { auth } from "@/lib/auth";

export default async function Home() {
  const session = await auth.api.getSession({ headers: await headers() });
  if (!session) redirect("/sign-in");
  return (
    <>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex h-14 max-w-4xl items-center justify-between gap-3 px-4">
          <span className="flex items-center gap-2 text-base font-semibold tracking-tight">
            <LogoIcon className="size-6" /> Todo
          </span>
          <UserMenu name={session.user.name} email={session.user.email} />
        </div>
      </header>
      <main className="mx-auto max-w-4xl px-4 pt-6 pb-28 sm:pt-8">
        <h1 className="text-2xl font-semibold tracking-tight text-slate-900">Tasks</h1>
        <OfflineProvider userId={session.user.id}>
          <TaskBoard />
        </OfflineProvider>
        <DangerZone email={session.user.email} />
      </main>
    </>
  );
}
