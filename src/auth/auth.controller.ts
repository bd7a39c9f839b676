import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentPrincipal, Public } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Client, ClientInfo } from '../common/http/client-info';
import { NoStore } from '../common/http/no-store';
import { AppException } from '../common/http/problem';
import { SessionsService } from '../sessions/sessions.service';
import {
  AcceptInvitationDto,
  ChangeEmailDto,
  ChangePasswordDto,
  ConfirmEmailDto,
  SwitchTenantDto,
  ForgotPasswordDto,
  LoginDto,
  RefreshDto,
  ResetPasswordDto,
} from './dto/auth.dto';
import { AuthService } from './auth.service';
import {
  ApiAcceptedResponse,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { LoginMfaDto, MfaRequiredResponse, PasskeySignInDto, WebAuthnOptionsResponse } from '../mfa/dto/mfa.dto';
import { ApiProblems } from '../common/http/problem.dto';
import {
  MeResponse,
  MessageResponse,
  MyTenantResponse,
  SessionResponse,
  TenantRequiredProblem,
  TokenPairResponse,
} from './dto/auth-responses.dto';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
  ) {}

  @Post('login')
  @Public()
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({
    summary:
      'Sign in with email and password: a token pair, or for a person with a second factor {mfa_required, challenge, methods} for POST /auth/login/mfa',
    description:
      'A person who belongs to several tenants names one with `tenantId`; without it (or with one they cannot use) the answer is 409 TENANT_REQUIRED, whose `details.tenants` lists their tenants. The tokens are bound to that one tenant.',
  })
  @ApiExtraModels(TokenPairResponse, MfaRequiredResponse)
  @ApiOkResponse({
    schema: { oneOf: [{ $ref: getSchemaPath(TokenPairResponse) }, { $ref: getSchemaPath(MfaRequiredResponse) }] },
  })
  @ApiResponse({
    status: 409,
    description: 'TENANT_REQUIRED: name one of `details.tenants`',
    type: TenantRequiredProblem,
  })
  @ApiProblems(400, 401, 429, 503)
  login(@Body() dto: LoginDto, @Client() client: ClientInfo) {
    return this.auth.login(dto, client);
  }

  @Post('login/mfa')
  @Public()
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({
    summary: 'Second step of a sign-in: the challenge and a TOTP code, a recovery code or a passkey answer',
  })
  @ApiOkResponse({ type: TokenPairResponse })
  @ApiProblems(400, 401, 409, 429)
  loginMfa(@Body() dto: LoginMfaDto, @Client() client: ClientInfo) {
    return this.auth.loginMfa(dto, client);
  }

  @Post('passkey/options')
  @Public()
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({
    summary: 'Start a passwordless sign-in with a passkey: a challenge and options for navigator.credentials.get()',
  })
  @ApiOkResponse({ type: WebAuthnOptionsResponse })
  passkeyOptions() {
    return this.auth.passkeyOptions();
  }

  @Post('passkey')
  @Public()
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({ summary: 'Sign in with a passkey alone (discoverable, user-verified): returns a token pair' })
  @ApiOkResponse({ type: TokenPairResponse })
  @ApiProblems(400, 401, 409)
  passkeyLogin(@Body() dto: PasskeySignInDto, @Client() client: ClientInfo) {
    return this.auth.passkeyLogin(dto, client);
  }

  @Post('refresh')
  @Public()
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({ summary: 'Trade a refresh token for a new pair; a reused token revokes the session' })
  @ApiOkResponse({ type: TokenPairResponse })
  @ApiProblems(400, 401)
  refresh(@Body() dto: RefreshDto) {
    return this.auth.refresh(dto.refreshToken);
  }

  @Post('logout')
  @Authenticated({ via: ['jwt'], duringEnrolment: true })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'End the current sign-in' })
  @ApiNoContentResponse({ description: 'Done' })
  logout(@CurrentPrincipal() principal: Principal, @Client() client: ClientInfo) {
    return this.auth.logout(principal, client);
  }

  @Get('me')
  @Authenticated({ via: ['jwt', 'session', 'apiKey'], duringEnrolment: true })
  @ApiOperation({ summary: 'Who is calling: user, tenant, role, and for a key its scopes' })
  @ApiOkResponse({ type: MeResponse })
  me(@CurrentPrincipal() principal: Principal) {
    return this.auth.me(principal);
  }

  @Get('tenants')
  @Authenticated({ via: ['jwt', 'session'] })
  @ApiOperation({ summary: 'The tenants the caller may sign in to, the current one marked' })
  @ApiOkResponse({ type: [MyTenantResponse] })
  listMyTenants(@CurrentPrincipal() principal: Principal) {
    return this.auth.tenantsOf(principal);
  }

  @Post('switch-tenant')
  @Authenticated({ via: ['jwt'] })
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({
    summary: 'Move to another of the caller’s tenants: a new token pair bound to it; the current sign-in ends',
  })
  @ApiOkResponse({ type: TokenPairResponse })
  @ApiResponse({
    status: 409,
    description: 'TENANT_REQUIRED: not one of `details.tenants`',
    type: TenantRequiredProblem,
  })
  @ApiProblems(400)
  switchTenant(@CurrentPrincipal() principal: Principal, @Body() dto: SwitchTenantDto, @Client() client: ClientInfo) {
    return this.auth.switchTenant(principal, dto.tenantId, client);
  }

  @Post('email')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Change the caller’s email address: a link to the new address confirms it; the old one is told',
  })
  @ApiAcceptedResponse({ type: MessageResponse })
  @ApiProblems(400, 429)
  async changeEmail(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: ChangeEmailDto,
    @Client() client: ClientInfo,
  ) {
    await this.auth.requestEmailChange(principal, dto, client);
    return { message: 'Follow the link sent to the new address to confirm it.' };
  }

  @Post('email/confirm')
  @Public()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Confirm a new email address with the token mailed to it' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 409, 429)
  confirmEmail(@Body() dto: ConfirmEmailDto, @Client() client: ClientInfo) {
    return this.auth.confirmEmailChange(dto, client);
  }

  @Get('sessions')
  @Authenticated({ via: ['jwt', 'session'] })
  @ApiOperation({ summary: "The caller's live sessions" })
  @ApiOkResponse({ type: [SessionResponse] })
  listSessions(@CurrentPrincipal() principal: Principal) {
    return this.sessions.listForUser(principal.tenantId!, principal.userId!, principal.sessionId);
  }

  @Delete('sessions/:id')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke one of the caller’s sessions' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 404)
  async revokeSession(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
  ) {
    if (!(await this.sessions.revokeOwn(principal.tenantId!, principal.userId!, id, 'revoked_by_user', client))) {
      throw new AppException(HttpStatus.NOT_FOUND, 'NOT_FOUND', 'Session not found');
    }
  }

  @Post('password')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Change the caller’s password; signs out their other sessions' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 429)
  changePassword(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: ChangePasswordDto,
    @Client() client: ClientInfo,
  ) {
    return this.auth.changePassword(principal, dto, client);
  }

  @Post('password/forgot')
  @Public()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Mail a reset link if the account exists; the answer is always the same' })
  @ApiAcceptedResponse({ type: MessageResponse })
  @ApiProblems(400, 429)
  async forgotPassword(@Body() dto: ForgotPasswordDto, @Client() client: ClientInfo) {
    await this.auth.forgotPassword(dto.email, client);
    return { message: 'If an account exists for this email, a reset link has been sent.' };
  }

  @Post('password/reset')
  @Public()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Set a new password with a reset token; signs out every session' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 429)
  resetPassword(@Body() dto: ResetPasswordDto, @Client() client: ClientInfo) {
    return this.auth.resetPassword(dto, client);
  }

  @Post('invitations/accept')
  @Public()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Accept an invitation: a person new to Keyward chooses a password, one with an account gives its password',
  })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 409, 429)
  acceptInvitation(@Body() dto: AcceptInvitationDto, @Client() client: ClientInfo) {
    return this.auth.acceptInvitation(dto, client);
  }
}
