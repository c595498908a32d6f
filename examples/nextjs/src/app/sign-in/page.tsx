import { headers } from "next/headers";
import { redirect } from "next/navigation";

import { AuthForm } from "@/components/auth-form";
import { auth } from "@/lib/auth";

export default async function SignIn() {
  // Already signed in (another tab, a "sign in again" link): straight to the list.
  if (await auth.api.getSession({ headers: await headers() })) redirect("/");
  return <AuthForm mode="sign-in" />;
}
