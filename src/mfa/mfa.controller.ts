import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Put,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminToken, Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Client, ClientInfo } from '../common/http/client-info';
import { NoStore } from '../common/http/no-store';
import { ApiProblems } from '../common/http/problem.dto';
import {
  AddPasskeyDto,
  ConfirmTotpDto,
  FactorStatusResponse,
  MfaPolicyDto,
  MfaPolicyResponse,
  PasskeyAddedResponse,
  PasskeyResponse,
  RecoveryCodesResponse,
  RenamePasskeyDto,
  StepUpDto,
  StepUpOptionsResponse,
  StepUpResponse,
  TotpEnrolmentResponse,
  WebAuthnOptionsResponse,
} from './dto/mfa.dto';
import { MfaService } from './mfa.service';
import { StepUpService } from './step-up.service';

/** A person's own second factors, and the step-up that sensitive actions ask for. */
@ApiTags('mfa')
@Controller('auth')
export class MfaController {
  constructor(
    private readonly mfa: MfaService,
    private readonly stepUp: StepUpService,
  ) {}

  @Get('mfa')
  @Authenticated({ via: ['jwt', 'session'], duringEnrolment: true })
  @ApiOperation({ summary: 'The caller’s second factors: authenticator app, passkeys, recovery codes left' })
  @ApiOkResponse({ type: FactorStatusResponse })
  getFactors(@CurrentPrincipal() principal: Principal) {
    return this.mfa.status(principal);
  }

  @Post('mfa/totp')
  @Authenticated({ via: ['jwt', 'session'], duringEnrolment: true })
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({ summary: 'Start adding an authenticator app: a new secret and its QR code (SVG)' })
  @ApiOkResponse({ type: TotpEnrolmentResponse })
  @ApiProblems(409)
  startTotp(@CurrentPrincipal() principal: Principal) {
    return this.mfa.startTotp(principal);
  }

  @Post('mfa/totp/confirm')
  @Authenticated({ via: ['jwt', 'session'], duringEnrolment: true })
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({ summary: 'Finish adding the app with a code from it; a first factor comes with 10 recovery codes' })
  @ApiOkResponse({ type: RecoveryCodesResponse })
  @ApiProblems(400, 409)
  confirmTotp(@CurrentPrincipal() principal: Principal, @Body() dto: ConfirmTotpDto, @Client() client: ClientInfo) {
    return this.mfa.confirmTotp(principal, dto.code, client);
  }

  @Delete('mfa/totp')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Remove the authenticator app (needs a fresh factor: step-up)' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(404)
  removeTotp(@CurrentPrincipal() principal: Principal, @Client() client: ClientInfo) {
    return this.mfa.removeTotp(principal, client);
  }

  @Post('mfa/recovery-codes')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({ summary: 'Ten new recovery codes, shown once; the old ones stop working (step-up)' })
  @ApiOkResponse({ type: RecoveryCodesResponse })
  @ApiProblems(409)
  regenerateRecoveryCodes(@CurrentPrincipal() principal: Principal, @Client() client: ClientInfo) {
    return this.mfa.regenerateRecoveryCodes(principal, client);
  }

  @Post('mfa/passkeys/options')
  @Authenticated({ via: ['jwt', 'session'], duringEnrolment: true })
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({ summary: 'Options for navigator.credentials.create(), to register a passkey' })
  @ApiOkResponse({ type: WebAuthnOptionsResponse })
  passkeyOptions(@CurrentPrincipal() principal: Principal) {
    return this.mfa.passkeyOptions(principal);
  }

  @Post('mfa/passkeys')
  @Authenticated({ via: ['jwt', 'session'], duringEnrolment: true })
  @NoStore()
  @ApiOperation({ summary: 'Register a passkey with the browser’s answer and a name' })
  @ApiCreatedResponse({ type: PasskeyAddedResponse })
  @ApiProblems(400, 409)
  addPasskey(@CurrentPrincipal() principal: Principal, @Body() dto: AddPasskeyDto, @Client() client: ClientInfo) {
    return this.mfa.addPasskey(principal, dto, client);
  }

  @Patch('mfa/passkeys/:id')
  @Authenticated({ via: ['jwt', 'session'] })
  @ApiOperation({ summary: 'Rename a passkey' })
  @ApiOkResponse({ type: PasskeyResponse })
  @ApiProblems(400, 404)
  renamePasskey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: RenamePasskeyDto,
  ) {
    return this.mfa.renamePasskey(principal, id, dto.name);
  }

  @Delete('mfa/passkeys/:id')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Remove a passkey (step-up)' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 404)
  removePasskey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
  ) {
    return this.mfa.removePasskey(principal, id, client);
  }

  @Post('step-up/options')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.OK)
  @NoStore()
  @ApiOperation({ summary: 'Start a step-up: the methods, and for a passkey a challenge and its options' })
  @ApiOkResponse({ type: StepUpOptionsResponse })
  stepUpOptions(@CurrentPrincipal() principal: Principal) {
    return this.stepUp.begin(principal);
  }

  @Post('step-up')
  @Authenticated({ via: ['jwt', 'session'] })
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Confirm a second factor now; sensitive actions are then allowed for 5 minutes' })
  @ApiOkResponse({ type: StepUpResponse })
  @ApiProblems(400, 409, 429)
  stepUpVerify(@CurrentPrincipal() principal: Principal, @Body() dto: StepUpDto, @Client() client: ClientInfo) {
    return this.stepUp.verify(principal, dto as never, client);
  }
}

/** The tenant's second-factor policy, and resetting a member who lost every factor. */
@ApiTags('mfa')
@Controller()
export class MfaPolicyController {
  constructor(private readonly mfa: MfaService) {}

  @Get('v1/tenant/mfa-policy')
  @Authenticated({ via: ['jwt', 'session'] })
  @ApiOperation({ summary: 'Who in the tenant must have a second factor' })
  @ApiOkResponse({ type: MfaPolicyResponse })
  getMfaPolicy(@CurrentPrincipal() principal: Principal) {
    return this.mfa.policy(principal.tenantId!);
  }

  @Put('v1/tenant/mfa-policy')
  @Authenticated({ via: ['jwt', 'session'], roles: ['owner'] })
  @ApiOperation({ summary: 'Require a second factor of everyone, of owners and admins, or of nobody (owners)' })
  @ApiOkResponse({ type: MfaPolicyResponse })
  @ApiProblems(400)
  setMfaPolicy(@CurrentPrincipal() principal: Principal, @Body() dto: MfaPolicyDto, @Client() client: ClientInfo) {
    return this.mfa.setPolicy(principal, dto.policy, client);
  }

  @Delete('v1/users/:id/factors')
  @Authenticated({ via: ['jwt', 'session'], roles: ['owner'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Remove every second factor of a member who lost theirs (owners; step-up; audited and mailed)',
  })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 404, 409)
  resetUserFactors(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
  ) {
    return this.mfa.resetMemberFactors({ principal }, principal.tenantId!, id, client);
  }

  @Delete('admin/tenants/:id/users/:userId/factors')
  @AdminToken()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Operator: remove every second factor of a person (audited and mailed)' })
  @ApiNoContentResponse({ description: 'Done' })
  @ApiProblems(400, 404, 409)
  adminResetUserFactors(
    @Param('id', new ParseUUIDPipe()) tenantId: string,
    @Param('userId', new ParseUUIDPipe()) userId: string,
    @Client() client: ClientInfo,
  ) {
    return this.mfa.resetMemberFactors({ operator: true }, tenantId, userId, client);
  }
}
