import { headers } from "next/headers";
import { redirect } from "next/navigation";

import { Account } from "@/components/account";
import { TaskBoard } from "@/components/task-board";
import { auth } from "@/lib/auth";

export default async function Home() {
  const session = await auth.api.getSession({ headers: await headers() });
  if (!session) redirect("/sign-in");
  return (
    <main>
      <header>
        <h1>Tasks</h1>
        <Account name={session.user.name} email={session.user.email} />
      </header>
      <TaskBoard />
    </main>
  );
}
